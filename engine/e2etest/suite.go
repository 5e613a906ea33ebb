package e2etest

import (
	"slices"
	"testing"
)

type suiteCase struct {
	name string
	fn   func(*testing.T, *suite)
}

// Run runs the whole suite against relays made by start.
func Run(t *testing.T, start Start) { runCases(t, plainSuite(start), allCases) }

// RunTLS runs the whole suite over msrps: clients verify the relay's
// certificate, and relays dial each other with mutual TLS.
func RunTLS(t *testing.T, start Start) { runCases(t, tlsSuite(t, start), allCases) }

// RunWS runs the suite with its clients over WebSocket (RFC 7977) on a
// ws:// listener of its own; relays reach each other over TCP.
func RunWS(t *testing.T, start Start) {
	s := plainSuite(start)
	s.ws = true
	runCases(t, s, slices.Concat(allCases, wsCases))
}

// RunWSS is RunWS over wss://, relays reaching each other over msrps.
func RunWSS(t *testing.T, start Start) {
	s := tlsSuite(t, start)
	s.ws = true
	runCases(t, s, slices.Concat(allCases, wsCases))
}

func runCases(t *testing.T, s *suite, cases []suiteCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

// allCases is every list of cases; each file of cases keeps its own list.
var allCases = slices.Concat(coreCases, robustCases, dropCases, hostileCases, panicCases, storeCases, fairnessCases)

var coreCases = []suiteCase{
	{"AuthForms", testAuthForms},
	{"AuthChallenge", testAuthChallenge},
	{"AuthFailuresClose", testAuthFailuresClose},
	{"AuthAlwaysAnswered", testAuthAlwaysAnswered},
	{"AuthStaleNonce", testAuthStaleNonce},
	{"AuthReplayedNC", testAuthReplayedNC},
	{"AuthExpiresBounds", testAuthExpiresBounds},
	{"AuthDomains", testAuthDomains},
	{"SingleHopSend", testSingleHopSend},
	{"SharedTopology", testSharedTopology},
	{"TwoRelays", testTwoRelays},
	{"ClientBehindTwoRelays", testClientBehindTwoRelays},
	{"OwnerRoutesByPath", testOwnerRoutesByPath},
	{"InwardLoopForbidden", testInwardLoopForbidden},
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
	{"LastFrameBeforeClose", testLastFrameBeforeClose},
}
