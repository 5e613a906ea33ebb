package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine/e2etest"
)

// TestTextMessage: the single topology (RFC 4976 §3): the sender has no
// relay and connects to the receiver's, whose URI leads the path.
func TestTextMessage(t *testing.T) {
	relay, _ := startRelay(t)
	rr := startReceive(t, append(authArgs(relay, "bob"), "--count", "1", "--timeout", "15s")...)
	if !regexp.MustCompile(`^msrp://127\.0\.0\.1:\d+/\S+;tcp msrp://127\.0\.0\.1:\d+/\S+;tcp$`).MatchString(rr.path) {
		t.Fatalf("path %q", rr.path)
	}
	text := "hello bob, -------x$ is not an end-line"
	out, err := send(t, "--to-path", rr.path, "--message", text)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if !strings.HasPrefix(out, fmt.Sprintf("sent %d bytes in ", len(text))) {
		t.Errorf("send printed %q", out)
	}
	line := rr.out.next(t, 10*time.Second)
	want := regexp.MustCompile(`^message from msrp://127\.0\.0\.1:\d+/\S+;tcp: hello bob, -------x\$ is not an end-line$`)
	if !want.MatchString(line) {
		t.Errorf("receive printed %q", line)
	}
	if err := rr.wait(t); err != nil {
		t.Errorf("receive: %v", err)
	}
}

// TestFileSharedRelay sends a 5 MiB file in 64 KiB chunks, window 4, with
// both users on one relay (the shared topology): the sender logs in too and
// puts its own session in front. The saved file must be the same bytes.
func TestFileSharedRelay(t *testing.T) {
	relay, _ := startRelay(t)
	dir := t.TempDir()
	rr := startReceive(t, append(authArgs(relay, "bob"), "--count", "1", "--timeout", "20s", "--dir", dir)...)

	src := filepath.Join(t.TempDir(), "payload.bin")
	data := make([]byte, 5<<20)
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := send(t, append(authArgs(relay, "alice"), "--to-path", rr.path, "--file", src, "--chunk-size", "65536", "--window", "4")...)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if !strings.HasPrefix(out, fmt.Sprintf("sent %d bytes in ", len(data))) {
		t.Errorf("send printed %q", out)
	}
	sum := sha256.Sum256(data)
	dst := filepath.Join(dir, "payload.bin")
	want := fmt.Sprintf("saved %s (%d bytes, sha256 %s)", dst, len(data), hex.EncodeToString(sum[:]))
	if line := rr.out.next(t, 10*time.Second); line != want {
		t.Errorf("receive printed\n%q, want\n%q", line, want)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if gs := sha256.Sum256(got); gs != sum || !bytes.Equal(got, data) {
		t.Errorf("saved file differs: %d bytes, sha256 %x", len(got), gs)
	}
	if err := rr.wait(t); err != nil {
		t.Errorf("receive: %v", err)
	}
}

// TestUnknownSession: a path whose relay session does not exist is refused
// with 481, in both topologies, and send says so.
func TestUnknownSession(t *testing.T) {
	relay, _ := startRelay(t)
	bogus := "msrp://" + relay + "/AAAAAAAAAAAAAAAAAAAAAA;tcp msrp://127.0.0.1:9/bob;tcp"
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"direct", nil},
		{"behind own relay", authArgs(relay, "alice")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := send(t, append(tc.args, "--to-path", bogus, "--message", "anyone there?", "--timeout", "5s")...)
			if err == nil || !strings.Contains(err.Error(), "481") {
				t.Fatalf("send: %v, want a 481 refusal", err)
			}
			t.Logf("error as shown: %v", err)
		})
	}
}

// TestTwoFilesAtOnce sends two files to one receiver at the same time, one
// from a sender without a relay and one from a sender logged in at the same
// relay, in chunks larger than the sender holds in memory (it streams them
// from the file) and than the relay forwards whole: the relay streams
// them (Byte-Range end '*') and, when both arrive at once, cuts chunks to
// interleave the transfers (RFC 4975 §7.1.1), so the receiver usually gets
// a chunk in several frames, the two messages' frames mixed. (That timing
// is the relay's; TestReassembly covers such orders deterministically.)
func TestTwoFilesAtOnce(t *testing.T) {
	relay, _ := startRelay(t)
	dir := t.TempDir()
	rr := startReceive(t, append(authArgs(relay, "bob"), "--count", "2", "--timeout", "20s", "--dir", dir)...)
	srcDir := t.TempDir()
	sums := map[string]string{}
	errs := make(chan error, 2)
	for i, extra := range [][]string{nil, authArgs(relay, "carol")} {
		name := fmt.Sprintf("file%d.bin", i)
		data := make([]byte, 3<<20+i*12345)
		rand.Read(data)
		src := filepath.Join(srcDir, name)
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums[filepath.Join(dir, name)] = fmt.Sprintf("(%d bytes, sha256 %s)", len(data), hex.EncodeToString(sum[:]))
		go func() {
			_, err := send(t, append(extra, "--to-path", rr.path, "--file", src, "--chunk-size", "2000000", "--window", "2")...)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("send: %v", err)
		}
	}
	for range 2 {
		line := rr.out.next(t, 10*time.Second)
		path, rest, _ := strings.Cut(strings.TrimPrefix(line, "saved "), " ")
		if sums[path] != rest {
			t.Errorf("receive printed %q; want one of %v", line, sums)
		}
	}
	if err := rr.wait(t); err != nil {
		t.Errorf("receive: %v", err)
	}
}

// TestReceiverGone: the receiver takes the first chunk and disconnects;
// its session ends with its connection, and the send must fail with the
// relay's refusal or failure REPORT rather than hang or claim success.
func TestReceiverGone(t *testing.T) {
	relay, _ := startRelay(t)
	bob, err := endpoint.Dial(relay, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	bob.SetDeadline(time.Now().Add(20 * time.Second))
	res, err := bob.Auth(endpoint.AuthOptions{RelayURI: "msrp://" + e2etest.Realm + ":" + portOf(relay) + ";tcp",
		FromURI: "msrp://127.0.0.1:9/bob;tcp", User: "bob", Password: e2etest.Password})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := bob.ReadFrame()
		if err == nil {
			t.Logf("bob got %s %s and hangs up", f.Method, f.Header("Byte-Range"))
		}
		bob.Close()
	}()
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(src, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = send(t, "--to-path", res.UsePath+" msrp://127.0.0.1:9/bob;tcp", "--file", src, "--window", "2", "--timeout", "10s")
	if err == nil {
		t.Fatal("send succeeded to a receiver that hung up")
	}
	t.Logf("error as shown: %v", err)
}

func portOf(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

// TestTwoRelays: the sender behind its own relay, the receiver behind
// another (RFC 4976 §3): the sender's relay opens a connection to the
// receiver's.
func TestTwoRelays(t *testing.T) {
	relayA, _ := startRelay(t)
	relayB, _ := startRelay(t)
	dir := t.TempDir()
	rr := startReceive(t, append(authArgs(relayB, "bob"), "--count", "2", "--timeout", "15s", "--dir", dir)...)
	if _, err := send(t, append(authArgs(relayA, "alice"), "--to-path", rr.path, "--message", "across two relays")...); err != nil {
		t.Fatalf("send message: %v", err)
	}
	if line := rr.out.next(t, 10*time.Second); !strings.HasSuffix(line, ";tcp: across two relays") {
		t.Errorf("receive printed %q", line)
	}
	src := filepath.Join(t.TempDir(), "two.bin")
	data := make([]byte, 1<<20+7)
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := send(t, append(authArgs(relayA, "alice"), "--to-path", rr.path, "--file", src)...); err != nil {
		t.Fatalf("send file: %v", err)
	}
	sum := sha256.Sum256(data)
	want := fmt.Sprintf("saved %s (%d bytes, sha256 %x)", filepath.Join(dir, "two.bin"), len(data), sum)
	if line := rr.out.next(t, 10*time.Second); line != want {
		t.Errorf("receive printed %q, want %q", line, want)
	}
}
