//go:build ringsup_lean

package health

import (
	"context"
	"net"
)

// TLS tells whether this build's http probes speak https. The lean build
// (tag ringsup_lean) leaves TLS out, and with it crypto/tls and x509,
// whose package init every process of that build would otherwise pay.
const TLS = false

// clientTLS is not reached: get refuses an https URL first.
func clientTLS(context.Context, net.Conn, string) (net.Conn, error) { return nil, errNoTLS }
