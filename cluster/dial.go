package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/ringrift/ringsup/config"
)

// Dial returns a client of the etcd cluster c names, on endpoints (all of
// c's when nil). It does not wait for a connection: the first request
// does. Use Reachable to check that etcd answers.
func Dial(c *config.Cluster, endpoints []string) (*clientv3.Client, error) {
	if endpoints == nil {
		endpoints = c.Endpoints
	}
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: c.DialTimeout,
		Logger:      zap.NewNop(),
	}
	tlsCfg, err := tlsConfig(c)
	if err != nil {
		return nil, err
	}
	cfg.TLS = tlsCfg
	if c.Username != "" {
		cfg.Username = c.Username
		if c.PasswordFile != "" {
			b, err := os.ReadFile(c.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("cannot read the etcd password: %w", err)
			}
			cfg.Password = strings.TrimRight(string(b), "\r\n")
		}
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to etcd at %s: %w", strings.Join(endpoints, ", "), err)
	}
	return cli, nil
}

// tlsConfig returns the TLS settings of c, or nil when it has none and no
// endpoint asks for https.
func tlsConfig(c *config.Cluster) (*tls.Config, error) {
	https := false
	for _, ep := range c.Endpoints {
		https = https || strings.HasPrefix(ep, "https://")
	}
	if c.CAFile == "" && c.CertFile == "" && !https {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read the etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cannot use the etcd CA %s: no PEM certificate in it", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot use the etcd client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// UnreachableError says that etcd did not answer.
type UnreachableError struct {
	Endpoints []string
	Err       error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach etcd at %s: %v", strings.Join(e.Endpoints, ", "), e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// unreachable wraps err, the error of a request to cli, as an
// *UnreachableError when it says etcd did not answer in time.
func unreachable(cli *clientv3.Client, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Unavailable") {
		return &UnreachableError{Endpoints: cli.Endpoints(), Err: err}
	}
	return err
}

// DialFirst returns a client of the first of c's endpoints to answer a
// read within the dial timeout: a member that hangs (SIGSTOP, a frozen
// machine) keeps its connections open, and a client that spreads its
// requests over every endpoint would wait on it.
func DialFirst(ctx context.Context, c *config.Cluster, keys Keys) (*clientv3.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, c.DialTimeout)
	defer cancel()
	type answer struct {
		cli *clientv3.Client
		err error
	}
	answers := make(chan answer, len(c.Endpoints))
	for _, ep := range c.Endpoints {
		go func() {
			cli, err := Dial(c, []string{ep})
			if err == nil {
				if _, err = cli.Get(ctx, keys.Node("-"), clientv3.WithCountOnly()); err != nil {
					cli.Close()
				}
			}
			answers <- answer{cli, err}
		}()
	}
	var first *clientv3.Client
	var last error
	for range c.Endpoints {
		a := <-answers
		switch {
		case a.err != nil:
			last = a.err
		case first == nil:
			first = a.cli
			cancel() // the others give up
		default:
			a.cli.Close()
		}
	}
	if first == nil {
		return nil, &UnreachableError{Endpoints: c.Endpoints, Err: last}
	}
	return first, nil
}
