package gnetdrv

import (
	"net"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/conncap"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// handshake runs a server handshake off the loops, then enrolls the
// connection.
func (s *Server) handshake(nc net.Conn, l *link) {
	defer l.recoverHandOff(&nc)
	sess, err := s.serverHandshake(nc)
	if err != nil {
		s.relay.Note(zerolog.InfoLevel, "TLS handshake failed", addrPort(nc.RemoteAddr())).Err(err).Send()
		_ = nc.Close()
		if l.st.enrollFailed() {
			l.end(nil, -1)
		}
		return
	}
	l.tls = sess
	l.peer = engine.PeerInfo{RelayNames: tlsshim.VerifyRelay(sess.State(), s.opts.TLS.RelayRoots)}
	s.enroll(nc, l)
}

// serverHandshake runs once the peer has sent its first byte, while a
// bounded number of others do (conncap.Handshakes), so a storm of
// handshakes queues here instead of starving forwarding of CPU, and silent
// or slow peers from one address cannot hold every slot.
func (s *Server) serverHandshake(nc net.Conn) (*tlsshim.Session, error) {
	if err := conncap.WaitFirstByte(nc, conncap.FirstByteTimeout); err != nil {
		return nil, err
	}
	src := addrPort(nc.RemoteAddr()).Addr()
	if !s.handshakes.Acquire(src) {
		return nil, conncap.ErrShare
	}
	defer s.handshakes.Release(src)
	return tlsshim.Server(nc, s.opts.TLS.Server(), s.opts.TLS.HandshakeTimeoutOr(10*time.Second))
}
