package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"time"
)

// PruneAfter is how long ACME objects are kept after they stop mattering:
// an order that never became valid, after it expired; an issued
// certificate's record (and its order), after the certificate expired.
const PruneAfter = 30 * 24 * time.Hour

// pruneEvery is how often the leader prunes.
const pruneEvery = time.Hour

// maxPruneScan bounds the orders one Prune looks at.
const maxPruneScan = 1 << 20

// pruneLoop prunes every pruneEvery while this node leads (any node may,
// versioned writes make it safe; one is enough).
func (s *Server) pruneLoop() {
	defer s.background.Done()
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if s.cfg.Leader != nil && !s.cfg.Leader() {
				continue
			}
			if n, err := s.Prune(s.ctx); err != nil {
				s.log.Warn("acme: pruning old objects", "err", err, "deleted", n)
			} else if n > 0 {
				s.log.Info("acme: pruned old objects", "deleted", n)
			}
		}
	}
}

// Prune deletes the ACME objects nobody needs any more, so the replicated
// store does not grow without bound: orders that expired PruneAfter ago
// without becoming valid, with their authorizations and list entries; and
// for certificates that expired PruneAfter ago, their records, serial
// index entries and orders. Accounts stay. It returns how many objects it
// deleted. An object changed meanwhile is left for the next round.
func (s *Server) Prune(ctx context.Context) (int, error) {
	keys, err := s.cfg.Store.List(ctx, keyPrefix+"order/", maxPruneScan)
	if err != nil {
		return 0, err
	}
	now, deleted := s.now(), 0
	for _, k := range keys {
		var o order
		ver, err := s.load(ctx, k, &o)
		if errors.Is(err, ErrNoObject) {
			continue
		} else if err != nil {
			return deleted, err
		}
		writes, ok, err := s.pruneOrder(ctx, &o, ver, now)
		if err != nil {
			return deleted, err
		}
		if !ok {
			continue
		}
		switch err := s.cfg.Store.Put(ctx, writes); {
		case errors.Is(err, ErrVersionConflict):
		case err != nil:
			return deleted, err
		default:
			deleted += len(writes)
		}
	}
	return deleted, nil
}

// pruneOrder returns the deletions that retire order o, if it is due.
func (s *Server) pruneOrder(ctx context.Context, o *order, ver uint64, now time.Time) ([]Write, bool, error) {
	w := []Write{{Key: orderKey(o.ID), Version: ver}, {Key: accountOrdersPrefix(o.Account) + o.ID, Version: anyVersion}}
	for _, id := range o.Authorizations {
		w = append(w, Write{Key: authzKey(id), Version: anyVersion})
	}
	if o.Status != statusValid || o.Cert == "" {
		return w, now.After(o.Expires.Add(PruneAfter)), nil
	}
	var c issued
	cver, err := s.load(ctx, certKey(o.Cert), &c)
	if errors.Is(err, ErrNoObject) {
		return w, now.After(o.Expires.Add(PruneAfter)), nil
	} else if err != nil {
		return nil, false, err
	}
	if !now.After(c.NotAfter.Add(PruneAfter)) {
		return nil, false, nil
	}
	if cert, err := x509.ParseCertificate(c.DER); err == nil {
		w = append(w, Write{Key: serialKey(serialHex(cert)), Version: anyVersion})
	}
	return append(w, Write{Key: certKey(c.ID), Version: cver}), true, nil
}
