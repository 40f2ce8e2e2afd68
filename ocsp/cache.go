package ocsp

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxAliases bounds the raw forms of a request (GET paths, POST bodies)
// remembered as keys of one slot; further forms are parsed each time and
// still find the slot by its canonical key.
const maxAliases = 4

// slot is one cached answer: the CertIDs of a request and their signed
// response. It is found by its canonical key and by up to maxAliases raw
// request forms, and indexed by each certificate it names.
type slot struct {
	canon string   // the CertIDs' DER (certIDsOf parses it back)
	certs []string // index keys (certKey) of the CertIDs

	resp    atomic.Pointer[response] // nil: invalidated or not signed yet
	ver     atomic.Uint64            // bumped by every invalidation and removal
	ref     atomic.Bool              // CLOCK reference bit
	lastHit atomic.Int64             // unix second of the latest hit

	// Guarded by cache.mu.
	aliases []string
	pos     int // index in cache.ring; -1 once removed
	flight  *flight
}

// flight is one signing of a slot's response; concurrent misses of the
// slot wait for it instead of signing again.
type flight struct {
	done chan struct{}
	ver  uint64 // the slot's version when the flight began
	resp *response
	err  error
}

// cache holds at most max slots and evicts with CLOCK: a hit only sets a
// bit (no lock held for writing, no list to reorder), and eviction sweeps
// the ring clearing bits until it finds a slot not hit since the last
// sweep. All maps and the ring are guarded by mu; a hit takes mu for
// reading only.
type cache struct {
	mu     sync.RWMutex
	keys   map[string]*slot
	ring   []*slot
	hand   int
	byCert map[string][]*slot
	max    int
}

func newCache(max int) *cache {
	return &cache{keys: make(map[string]*slot), byCert: make(map[string][]*slot), max: max}
}

// hit returns the fresh response cached under key, or nil.
func (c *cache) hit(key string, now time.Time) *response {
	c.mu.RLock()
	s := c.keys[key]
	c.mu.RUnlock()
	if s == nil {
		return nil
	}
	return s.hit(now)
}

// hitBytes is hit for a key held in a byte slice (no allocation).
func (c *cache) hitBytes(key []byte, now time.Time) *response {
	c.mu.RLock()
	s := c.keys[string(key)]
	c.mu.RUnlock()
	if s == nil {
		return nil
	}
	return s.hit(now)
}

// hit returns s's response if it is fresh at now and records the hit.
// Shared words are written only when they change.
func (s *slot) hit(now time.Time) *response {
	resp := s.resp.Load()
	if resp == nil || !resp.fresh(now) {
		return nil
	}
	if !s.ref.Load() {
		s.ref.Store(true)
	}
	if sec := now.Unix(); s.lastHit.Load() < sec {
		s.lastHit.Store(sec)
	}
	return resp
}

// slotFor returns the slot of q, inserting an empty one if there is none,
// and remembers alias ("" for none) as another key for it.
func (c *cache) slotFor(q *request, alias string) *slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.keys[q.canon]
	if s == nil {
		s = &slot{canon: q.canon, certs: certKeys(q.ids)}
		c.insert(s)
	}
	if alias != "" && len(s.aliases) < maxAliases && c.keys[alias] == nil {
		c.keys[alias] = s
		s.aliases = append(s.aliases, alias)
	}
	return s
}

func (c *cache) insert(s *slot) {
	if len(c.ring) >= c.max {
		c.evict()
	}
	s.pos = len(c.ring)
	c.ring = append(c.ring, s)
	c.keys[s.canon] = s
	for _, k := range s.certs {
		c.byCert[k] = append(c.byCert[k], s)
	}
}

// evict removes the first slot at or after the hand whose reference bit
// is clear, clearing the bits it passes (bounded, in case hits keep
// setting them).
func (c *cache) evict() {
	for range 2 * len(c.ring) {
		if !c.ring[c.hand].ref.Swap(false) {
			break
		}
		c.hand = (c.hand + 1) % len(c.ring)
	}
	c.remove(c.ring[c.hand])
}

// remove takes s out of the ring, the keys and the index.
func (c *cache) remove(s *slot) {
	if s.pos < 0 {
		return
	}
	last := c.ring[len(c.ring)-1]
	c.ring[s.pos], last.pos = last, s.pos
	c.ring[len(c.ring)-1] = nil
	c.ring = c.ring[:len(c.ring)-1]
	if c.hand >= len(c.ring) {
		c.hand = 0
	}
	delete(c.keys, s.canon)
	for _, a := range s.aliases {
		delete(c.keys, a)
	}
	for _, k := range s.certs {
		c.unindex(k, s)
	}
	s.pos = -1
	s.ver.Add(1)
}

func (c *cache) unindex(k string, s *slot) {
	list := c.byCert[k]
	for i, t := range list {
		if t == s {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(c.byCert, k)
		return
	}
	c.byCert[k] = list
}

// invalidate empties the slots that name any of certKeys: their responses
// are gone at once and any signing under way will not be stored. It
// returns them, for re-signing.
func (c *cache) invalidate(certKeys []string) []*slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*slot
	seen := make(map[*slot]bool)
	for _, k := range certKeys {
		for _, s := range c.byCert[k] {
			if seen[s] {
				continue
			}
			seen[s] = true
			s.empty()
			out = append(out, s)
		}
	}
	return out
}

// invalidateIssuer empties, as invalidate does, the slots naming a
// certificate whose index key starts with one of prefixes (an issuer's
// key hash: its signer changed) and returns them.
func (c *cache) invalidateIssuer(prefixes []string) []*slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*slot
	for _, s := range c.ring {
		if slices.ContainsFunc(s.certs, func(k string) bool {
			return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(k, p) })
		}) {
			s.empty()
			out = append(out, s)
		}
	}
	return out
}

// empty drops s's response; a signing under way will not be stored.
// Called with cache.mu held.
func (s *slot) empty() {
	s.ver.Add(1)
	s.resp.Store(nil)
	s.flight = nil
}

// join returns the flight signing s, starting one (leader) if none is.
func (c *cache) join(s *slot) (f *flight, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.flight != nil {
		return s.flight, false
	}
	s.flight = &flight{done: make(chan struct{}), ver: s.ver.Load()}
	return s.flight, true
}

// finish ends f: its response is stored only if s is still cached and was
// not invalidated since f began (the response may predate the change).
func (c *cache) finish(s *slot, f *flight) {
	c.mu.Lock()
	if f.err == nil && s.pos >= 0 && s.ver.Load() == f.ver {
		s.resp.Store(f.resp)
	}
	if s.flight == f {
		s.flight = nil
	}
	c.mu.Unlock()
	close(f.done)
}

// holds reports whether s is still cached.
func (c *cache) holds(s *slot) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return s.pos >= 0
}

// due returns the slots whose responses reached their refresh time: hot
// ones (hit since they were signed) to re-sign, cold ones to drop.
func (c *cache) due(now time.Time) (hot, cold []*slot) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range c.ring {
		resp := s.resp.Load()
		if resp == nil || now.Unix() < resp.refresh {
			continue
		}
		if s.lastHit.Load() >= resp.signed {
			hot = append(hot, s)
		} else {
			cold = append(cold, s)
		}
	}
	return hot, cold
}

// drop removes slots.
func (c *cache) drop(slots []*slot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range slots {
		c.remove(s)
	}
}

// len returns the number of cached slots.
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.ring)
}

// invalidateSigner empties, as invalidate does, the slots holding a
// response s signed and those being signed now (the signing may have
// chosen s), and returns them.
func (c *cache) invalidateSigner(s *signer) []*slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*slot
	for _, sl := range c.ring {
		if resp := sl.resp.Load(); sl.flight != nil || (resp != nil && resp.by == s) {
			sl.empty()
			out = append(out, sl)
		}
	}
	return out
}
