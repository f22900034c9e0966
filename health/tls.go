//go:build !ringsup_lean

package health

import (
	"context"
	"crypto/tls"
	"net"
)

// TLS tells whether this build's http probes speak https. The lean build
// (tag ringsup_lean) leaves TLS out, and with it crypto/tls and x509,
// whose package init every process of that build would otherwise pay.
const TLS = true

// clientTLS runs a TLS handshake over conn with the server named
// serverName, verifying its certificate against the system's roots, and
// returns the connection to speak HTTP over.
func clientTLS(ctx context.Context, conn net.Conn, serverName string) (net.Conn, error) {
	tc := tls.Client(conn, &tls.Config{ServerName: serverName})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}
