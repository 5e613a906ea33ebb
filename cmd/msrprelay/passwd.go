package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/msrprelay/msrprelay/engine/digest"
)

// runPasswd adds or replaces a user in an htdigest file, reading the
// password from the first line of stdin (so it stays out of shell history
// and process listings).
func runPasswd(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 3 {
		return errors.New("usage: msrprelay passwd FILE USER REALM   (password on stdin)")
	}
	path, user, realm := args[0], args[1], args[2]
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return errors.New("no password on stdin")
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return errors.New("empty password")
	}
	if err := digest.UpsertFile(path, user, realm, pw); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: user %s in realm %s set\n", path, user, realm)
	return nil
}
