// Package browser is the end-to-end test with a real browser: headless
// Chromium opens a WebSocket (RFC 7977) to a relay started in process, on
// each engine, over ws and wss, and holds a chat and a 5 MB file transfer,
// both ways, with a Go MSRP client on the relay's TCP or TLS listener.
//
// The browser side is page.html, a minimal MSRP client in plain
// JavaScript (AUTH with digest, chunked SEND, reassembly by Byte-Range)
// written to be read as an example. The test serves it on loopback,
// starts Chromium on it, and collects what the page reports over HTTP; no
// browser-automation library is needed.
//
// Without Chromium the test skips, unless MSRP_REQUIRE_BROWSER=1 (CI).
package browser
