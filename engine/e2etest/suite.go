package e2etest

import (
	"testing"
)

// Run runs the whole suite against relays made by start.
func Run(t *testing.T, start Start) {
	tests := []struct {
		name string
		fn   func(*testing.T, Start)
	}{
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
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, start)
		})
	}
}
