package e2etest

import (
	"testing"
)

type suiteCase struct {
	name string
	fn   func(*testing.T, *suite)
}

// Run runs the whole suite against relays made by start.
func Run(t *testing.T, start Start) { runCases(t, plainSuite(start), allCases) }

// RunTLS runs the cases that do not depend on the transport's scheme over
// msrps: AUTH, both topologies, framing (pipelining, byte at a time, fake
// end-lines, a large chunk, interleaved streams), failures and reports.
// The cases left out assert plain msrp URIs or need two relays.
func RunTLS(t *testing.T, start Start) {
	var cases []suiteCase
	for _, c := range allCases {
		if !plainOnly[c.name] {
			cases = append(cases, c)
		}
	}
	runCases(t, tlsSuite(t, start), cases)
}

// plainOnly are the cases RunTLS leaves out: they assert msrp:// URIs,
// dial a second relay, or count connections a TLS handshake changes.
var plainOnly = map[string]bool{
	"AuthForms": true, "UnknownSession": true,
	"TwoRelays": true, "ClientBehindTwoRelays": true,
}

func runCases(t *testing.T, s *suite, cases []suiteCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

var allCases = []suiteCase{
	{"AuthForms", testAuthForms},
	{"AuthChallenge", testAuthChallenge},
	{"AuthFailuresClose", testAuthFailuresClose},
	{"AuthStaleNonce", testAuthStaleNonce},
	{"AuthReplayedNC", testAuthReplayedNC},
	{"AuthExpiresBounds", testAuthExpiresBounds},
	{"AuthDomains", testAuthDomains},
	{"SingleHopSend", testSingleHopSend},
	{"SharedTopology", testSharedTopology},
	{"TwoRelays", testTwoRelays},
	{"ClientBehindTwoRelays", testClientBehindTwoRelays},
	{"PipelinedFrames", testPipelinedFrames},
	{"ByteAtATime", testByteAtATime},
	{"FakeEndLines", testFakeEndLines},
	{"LargeChunk", testLargeChunk},
	{"UnknownSession", testUnknownSession},
	{"SecondBinding506", testSecondBinding},
	{"SessionExpiry", testSessionExpiry},
	{"SessionDiesWithConnection", testSessionDiesWithConnection},
	{"TransactionTimeoutReport", testTransactionTimeoutReport},
	{"DownstreamErrorReport", testDownstreamErrorReport},
	{"PeerVanishesMidTransfer", testPeerVanishes},
	{"SenderVanishesMidChunk", testSenderVanishes},
	{"EndToEndMethods", testEndToEndMethods},
	{"AllowMethods", testAllowMethods},
	{"Garbage", testGarbage},
	{"HugeHeaderLine", testHugeHeaderLine},
	{"Malformed400", testMalformed400},
	{"ConnectionCap", testConnectionCap},
	{"ProbationTimeout", testProbation},
	{"ConcurrentPairs", testConcurrentPairs},
	{"InterleavedStreams", testInterleavedStreams},
}
