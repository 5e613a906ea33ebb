package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/msrprelay/msrprelay/digest"
)

// runPasswd adds or replaces a user in an htdigest file, reading the
// password from the first line of stdin (so it stays out of shell history
// and process listings); on a terminal it prompts twice without echo.
func runPasswd(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 3 {
		return errors.New("usage: msrprelay passwd FILE USER REALM   (password on stdin)")
	}
	path, user, realm := args[0], args[1], args[2]
	pw, err := readPassword(stdin, stdout)
	if err != nil {
		return err
	}
	if pw == "" {
		return errors.New("empty password")
	}
	if err := digest.UpsertFile(path, user, realm, pw); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: user %s in realm %s set\n", path, user, realm)
	return nil
}

// readPassword reads the password: from a terminal with a prompt, twice,
// echo off; from anything else, its first line.
func readPassword(stdin io.Reader, stdout io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stdout, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stdout)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stdout, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stdout)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
