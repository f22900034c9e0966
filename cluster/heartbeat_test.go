package cluster

import (
	"testing"
	"time"
)

func TestSightingSee(t *testing.T) {
	holder := Owner{Node: "n1", Fence: 7, TTL: 4 * time.Second}
	beat := holder
	beat.Beat = 1
	tests := []struct {
		name   string
		prev   sighting
		modRev int64
		o      Owner
		now    time.Duration
		want   sighting
	}{
		{"first read", sighting{}, 10, holder, 5 * time.Second, sighting{10, 5 * time.Second, holder}},
		{"same version again: first read kept", sighting{10, 5 * time.Second, holder}, 10, holder, 9 * time.Second, sighting{10, 5 * time.Second, holder}},
		{"a heartbeat: read now", sighting{10, 5 * time.Second, holder}, 12, beat, 6 * time.Second, sighting{12, 6 * time.Second, beat}},
		{"no record", sighting{10, 5 * time.Second, holder}, 0, Owner{}, 6 * time.Second, sighting{0, 6 * time.Second, Owner{}}},
	}
	for _, tt := range tests {
		if got := tt.prev.see(tt.modRev, tt.o, tt.now); got != tt.want {
			t.Errorf("%s: see(%d, %+v, %v) = %+v, want %+v", tt.name, tt.modRev, tt.o, tt.now, got, tt.want)
		}
	}
}

func TestSightingFenceFrom(t *testing.T) {
	const ttl = 4 * time.Second
	at := 100 * time.Second
	tests := []struct {
		name string
		s    sighting
		rev  int64
		want time.Duration
	}{
		{"no record: at once", sighting{}, 20, 0},
		{"own record (a restart on the holder): at once", sighting{10, at, Owner{Fence: 20, TTL: ttl}}, 20, 0},
		{"released: at once", sighting{10, at, Owner{Fence: 7, TTL: ttl, Released: true}}, 20, 0},
		{"another holder: its TTL after the first read", sighting{10, at, Owner{Fence: 7, TTL: ttl}}, 20, at + ttl + fenceMargin},
		{"another holder's longer TTL", sighting{10, at, Owner{Fence: 7, TTL: 3 * ttl}}, 20, at + 3*ttl + fenceMargin},
		{"a record with no TTL: the candidate's", sighting{10, at, Owner{Fence: 7}}, 20, at + ttl + fenceMargin},
	}
	for _, tt := range tests {
		if got := tt.s.fenceFrom(tt.rev, ttl); got != tt.want {
			t.Errorf("%s: fenceFrom(%d, %v) = %v, want %v", tt.name, tt.rev, ttl, got, tt.want)
		}
	}
}

// TestWaitOutlastsTheHoldersDeadline plays the protocol on a fake clock
// (one for both nodes: the clocks' rates are assumed equal): whenever
// the holder's key vanishes (an expiry, or a stale etcd leader's early
// revocation), and however late the candidate reads the record, the
// candidate's fence passes only after the last D the holder acted on,
// plus fenceMargin.
func TestWaitOutlastsTheHoldersDeadline(t *testing.T) {
	const ttl = 4 * time.Second
	const renewEvery = ttl / 8
	for _, tt := range []struct {
		name string
		// The holder's renewals are sent every renewEvery from 0; each is
		// acknowledged ack later, and its heartbeat beatAck after that.
		ack, beatAck time.Duration
		// beats is how many heartbeats etcd acknowledged before the key
		// vanished at gone.
		beats int
		gone  time.Duration
		// The candidate reads the prefix every readEvery, starting at
		// readFrom.
		readEvery, readFrom time.Duration
	}{
		{"key revoked right after a heartbeat", 10 * time.Millisecond, 20 * time.Millisecond, 8, 8*renewEvery - 470*time.Millisecond, 100 * time.Millisecond, 0},
		{"slow reads miss heartbeats", 10 * time.Millisecond, 20 * time.Millisecond, 8, 8*renewEvery - 470*time.Millisecond, 1300 * time.Millisecond, 0},
		{"slow etcd", 400 * time.Millisecond, 300 * time.Millisecond, 5, 5*renewEvery - 100*time.Millisecond, 100 * time.Millisecond, 0},
		{"candidate starts reading late", 10 * time.Millisecond, 20 * time.Millisecond, 3, 3*renewEvery - 400*time.Millisecond, 100 * time.Millisecond, 2 * time.Second},
		{"holder dies, lease expires", 10 * time.Millisecond, 20 * time.Millisecond, 4, 4*renewEvery + ttl, 100 * time.Millisecond, 0},
	} {
		// The heartbeats: heartbeat k (k >= 1) follows renewal k-1, sent at
		// (k-1)*renewEvery; it is applied at applied[k] and lets the
		// holder extend D to (k-1)*renewEvery + ttl.
		type version struct {
			applied time.Duration
			modRev  int64
		}
		versions := []version{{0, 1}} // the fence, applied at 0 with D = ttl
		holderD := ttl
		for k := 1; k <= tt.beats; k++ {
			sent := time.Duration(k-1) * renewEvery
			applied := sent + tt.ack + tt.beatAck/2
			if applied >= tt.gone {
				break
			}
			versions = append(versions, version{applied, int64(k + 1)})
			holderD = max(holderD, sent+ttl)
		}
		// The candidate: what the record shows at each read, first read
		// of each version; its fence passes at the first read that shows
		// the key gone and is past fenceFrom.
		var s sighting
		var passed time.Duration
		for now := tt.readFrom; passed == 0; now += tt.readEvery {
			cur := versions[0]
			for _, v := range versions {
				if v.applied <= now {
					cur = v
				}
			}
			s = s.see(cur.modRev, Owner{Node: "n1", Fence: 7, TTL: ttl, Beat: cur.modRev - 1}, now)
			if now >= tt.gone && now >= s.fenceFrom(20, ttl) {
				passed = now
			}
		}
		if passed < holderD+fenceMargin {
			t.Errorf("%s: the candidate's fence passed at %v, before the holder's D %v + fenceMargin", tt.name, passed, holderD)
		}
		if slack := passed - (holderD + fenceMargin); slack > ttl/8+tt.readEvery+tt.readFrom+tt.ack+tt.beatAck {
			t.Errorf("%s: the candidate waited %v past the holder's D + fenceMargin", tt.name, slack)
		}
	}
}
