package acme

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

func chiParam(r *http.Request, name string) string { return chi.URLParam(r, name) }

// orderStatus works out what a stored order's status is now: a pending
// order whose authorizations are all valid is ready, one with an invalid
// (or expired, or deactivated) authorization is invalid, and an order past
// its expiry that never became valid is invalid.
func (s *Server) orderStatus(ctx context.Context, o *order) (string, error) {
	now := s.now()
	if o.Status == statusValid || o.Status == statusInvalid {
		return o.Status, nil
	}
	if now.After(o.Expires) {
		return statusInvalid, nil
	}
	if o.Status == statusProcessing && now.Sub(o.Updated) > staleProcessing {
		return statusInvalid, nil // its node died while issuing; the client orders again
	}
	if o.Status != statusPending {
		return o.Status, nil
	}
	ready := true
	for _, id := range o.Authorizations {
		var az authorization
		if _, err := s.load(ctx, authzKey(id), &az); err != nil {
			return "", err
		}
		switch s.authzStatus(&az) {
		case statusValid:
		case statusPending:
			ready = false
		default:
			return statusInvalid, nil
		}
	}
	if ready {
		return statusReady, nil
	}
	return statusPending, nil
}

// staleProcessing is how long an order may stay processing: finalize
// signs, publishes and records within a request's time, so an order
// processing longer lost its node in the middle.
const staleProcessing = 5 * time.Minute

// authzStatus is an authorization's status now (expiry applied).
func (s *Server) authzStatus(az *authorization) string {
	if (az.Status == statusPending || az.Status == statusValid) && s.now().After(az.Expires) {
		return statusExpired
	}
	return az.Status
}

func (s *Server) orderJSON(o *order, status string) map[string]any {
	authz := make([]string, len(o.Authorizations))
	for i, id := range o.Authorizations {
		authz[i] = s.url(pathAuthz + id)
	}
	m := map[string]any{
		"status": status, "expires": o.Expires.UTC().Format(time.RFC3339), "identifiers": o.Identifiers,
		"authorizations": authz, "finalize": s.url(pathOrder + o.ID + "/finalize"), "profile": o.Profile,
	}
	if o.Replaces != "" {
		m["replaces"] = o.Replaces
	}
	switch {
	case o.Error != nil:
		m["error"] = o.Error
	case status == statusInvalid && o.Status == statusProcessing:
		m["error"] = &Problem{Type: ErrServerInternal, Detail: "issuance did not complete; place a new order"}
	}
	if status == statusValid && o.Cert != "" {
		m["certificate"] = s.url(pathCert + o.Cert)
	}
	return m
}

// newOrder serves RFC 8555 §7.4, with ACME profiles and RFC 9773
// "replaces".
func (s *Server) newOrder(w http.ResponseWriter, q *request) error {
	var req struct {
		Identifiers []Identifier `json:"identifiers"`
		NotBefore   string       `json:"notBefore"`
		NotAfter    string       `json:"notAfter"`
		Profile     string       `json:"profile"`
		Replaces    string       `json:"replaces"`
	}
	if err := q.decode(&req); err != nil {
		return err
	}
	if req.NotBefore != "" || req.NotAfter != "" {
		return ErrMalformed.Errorf("notBefore and notAfter are not supported; the profile sets the validity (profiles: %s)", strings.Join(s.profileNames(), ", "))
	}
	profile := req.Profile
	if profile == "" {
		profile = s.cfg.Issuer.DefaultProfile()
	}
	if _, ok := s.cfg.Issuer.Profile(profile); !ok {
		return ErrInvalidProfile.Errorf("unknown profile %q (profiles: %s)", quoteShort(req.Profile), strings.Join(s.profileNames(), ", "))
	}
	idents, err := s.checkIdentifiers(req.Identifiers)
	if err != nil {
		return err
	}
	ctx := q.r.Context()
	now := s.now().UTC()
	o := &order{ID: newID(), Account: q.account.ID, Status: statusPending, Expires: now.Add(s.cfg.OrderLifetime),
		Identifiers: idents, Profile: profile, Updated: now}
	var writes []Write
	if req.Replaces != "" {
		w, err := s.replace(ctx, q, req.Replaces, o.ID)
		if err != nil {
			return err
		}
		o.Replaces = req.Replaces
		writes = append(writes, w)
	}
	for _, id := range idents {
		az := s.newAuthz(q.account.ID, id, o.Expires)
		o.Authorizations = append(o.Authorizations, az.ID)
		writes = append(writes, put(authzKey(az.ID), az, 0))
	}
	writes = append(writes, put(orderKey(o.ID), o, 0), Write{Key: accountOrdersPrefix(q.account.ID) + o.ID, Value: []byte{}})
	if err := s.cfg.Store.Put(ctx, writes); err != nil {
		return storeErr(err, "the certificate being replaced")
	}
	s.metrics.orders.WithLabelValues("created").Inc()
	w.Header().Set("Location", s.url(pathOrder+o.ID))
	writeJSON(w, http.StatusCreated, s.orderJSON(o, statusPending))
	return nil
}

func (s *Server) profileNames() []string {
	names := make([]string, 0)
	for n := range s.cfg.Issuer.Profiles() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// newAuthz makes a pending authorization with one challenge of each type
// that can prove ident: dns-01 only for a wildcard, no dns-01 for an IP.
func (s *Server) newAuthz(acct string, ident Identifier, expires time.Time) *authorization {
	az := &authorization{ID: newID(), Account: acct, Identifier: ident, Status: statusPending, Expires: expires}
	if v, ok := strings.CutPrefix(ident.Value, "*."); ok && ident.Type == IdentifierDNS {
		az.Identifier.Value, az.Wildcard = v, true
	}
	types := []string{ChallengeHTTP01, ChallengeTLSALPN01, ChallengeDNS01}
	switch {
	case az.Wildcard:
		types = []string{ChallengeDNS01}
	case ident.Type == IdentifierIP:
		types = types[:2]
	}
	for _, t := range types {
		az.Challenges = append(az.Challenges, challenge{Type: t, Token: NewToken(), Status: statusPending})
	}
	return az
}

// checkIdentifiers checks form and policy of an order's identifiers and
// returns them as the client spelled them, sorted by their canonical key
// (target.key), without a second spelling of one identifier. Refusals
// carry one subproblem per identifier.
//
// Why the client's spelling: RFC 8555 §7.1.3 makes an order's identifiers
// what the client asked for, and clients check (lego refuses an order
// whose identifiers differ from its request, acme-php looks
// authorizations up by the name it sent). Policy, duplicates and the CSR
// are matched case-insensitively, through the key, and the certificate
// holds DNS names in lower case (Issuer.Issue), as Boulder's do.
func (s *Server) checkIdentifiers(in []Identifier) ([]Identifier, error) {
	if len(in) == 0 || len(in) > maxIdentifiers {
		return nil, ErrMalformed.Errorf("an order needs 1 to %d identifiers, not %d", maxIdentifiers, len(in))
	}
	keys := make(map[Identifier]string, len(in)) // of those kept
	seen := make(map[string]bool, len(in))
	var out []Identifier
	var subs []*Problem
	for _, id := range in {
		t, err := checkIdentifier(id, true)
		if err == nil {
			err = s.allowed(id, t)
		}
		if err != nil {
			p := ProblemOf(err)
			p.Identifier = &Identifier{Type: id.Type, Value: id.Value}
			subs = append(subs, p)
			continue
		}
		if k := t.key(id); !seen[k] {
			seen[k], keys[id] = true, k
			out = append(out, id)
		}
	}
	if len(subs) > 0 {
		return nil, refused(subs)
	}
	slices.SortFunc(out, func(a, b Identifier) int { return strings.Compare(keys[a], keys[b]) })
	return out, nil
}

// refused is the problem of an order with identifiers refused for subs:
// the one subproblem, or a rejectedIdentifier (compound, if the reasons
// differ) holding them all.
func refused(subs []*Problem) *Problem {
	if len(subs) == 1 {
		return subs[0]
	}
	p := ErrRejectedIdentifier.Errorf("%d identifiers refused", len(subs))
	if !allSameType(subs, ErrRejectedIdentifier) {
		p = ErrCompound.Errorf("%d identifiers refused", len(subs))
	}
	return p.WithSubproblems(subs...)
}

func allSameType(ps []*Problem, t ProblemType) bool {
	for _, p := range ps {
		if p.Type != t {
			return false
		}
	}
	return true
}

// allowed applies the identifier policy.
func (s *Server) allowed(id Identifier, t target) error {
	if id.Type == IdentifierIP {
		for _, p := range s.cfg.Policy.IPs {
			if p.Contains(t.ip) {
				return nil
			}
		}
		return ErrRejectedIdentifier.Errorf("this CA does not issue for IP address %s", t.ip)
	}
	name := t.name()
	for _, d := range s.cfg.Policy.Domains {
		if name == d || strings.HasSuffix(name, "."+d) {
			return nil
		}
	}
	return ErrRejectedIdentifier.Errorf("this CA does not issue for %q (allowed: %s)", t.host, strings.Join(s.cfg.Policy.Domains, ", "))
}

// order serves the order resource (POST-as-GET).
func (s *Server) order(w http.ResponseWriter, q *request) error {
	var o order
	if _, err := s.owned(q.r.Context(), q, orderKey(chiParam(q.r, "id")), &o); err != nil {
		return err
	}
	return s.writeOrder(w, q.r.Context(), &o, http.StatusOK)
}

func (s *Server) writeOrder(w http.ResponseWriter, ctx context.Context, o *order, code int) error {
	st, err := s.orderStatus(ctx, o)
	if err != nil {
		return err
	}
	if st == statusProcessing {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Location", s.url(pathOrder+o.ID))
	writeJSON(w, code, s.orderJSON(o, st))
	return nil
}

// authzJSON is the authorization resource as clients see it.
func (s *Server) authzJSON(az *authorization) map[string]any {
	chs := make([]map[string]any, len(az.Challenges))
	for i := range az.Challenges {
		chs[i] = s.challengeJSON(az, &az.Challenges[i])
	}
	m := map[string]any{"identifier": az.Identifier, "status": s.authzStatus(az),
		"expires": az.Expires.UTC().Format(time.RFC3339), "challenges": chs}
	if az.Wildcard {
		m["wildcard"] = true
	}
	return m
}

func (s *Server) challengeJSON(az *authorization, ch *challenge) map[string]any {
	m := map[string]any{"type": ch.Type, "url": s.url(pathChallenge + az.ID + "/" + ch.Type), "token": ch.Token, "status": ch.Status}
	if ch.Validated != nil {
		m["validated"] = ch.Validated.UTC().Format(time.RFC3339)
	}
	if ch.Error != nil {
		m["error"] = ch.Error
	}
	return m
}

// authz serves the authorization resource: POST-as-GET, or deactivation
// by the client (RFC 8555 §7.5.2).
func (s *Server) authz(w http.ResponseWriter, q *request) error {
	var az authorization
	ver, err := s.owned(q.r.Context(), q, authzKey(chiParam(q.r, "id")), &az)
	if err != nil {
		return err
	}
	if !q.postAsGet() {
		var req struct {
			Status string `json:"status"`
		}
		if err := q.decode(&req); err != nil {
			return err
		}
		if req.Status != statusDeactivated {
			return ErrMalformed.Errorf("an authorization's status can only be changed to %q", statusDeactivated)
		}
		if st := s.authzStatus(&az); st != statusPending && st != statusValid {
			return ErrMalformed.Errorf("authorization is %s and cannot be deactivated", st)
		}
		az.Status = statusDeactivated
		if err := s.cfg.Store.Put(q.r.Context(), []Write{put(authzKey(az.ID), &az, ver)}); err != nil {
			return storeErr(err, "authorization")
		}
	}
	writeJSON(w, http.StatusOK, s.authzJSON(&az))
	return nil
}

// challengeLost is how long a challenge may stay processing before a new
// request may start its validation again (its node may have died).
func (s *Server) challengeLost() time.Duration { return 2*s.cfg.Validator.cfg.Timeout + 10*time.Second }

// challenge serves a challenge: POST-as-GET shows it, a "{}" payload asks
// for validation (RFC 8555 §7.5.1), which runs after the answer; the
// client polls the authorization.
func (s *Server) challenge(w http.ResponseWriter, q *request) error {
	ctx := q.r.Context()
	var az authorization
	ver, err := s.owned(ctx, q, authzKey(chiParam(q.r, "authz")), &az)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(az.Challenges, func(c challenge) bool { return c.Type == chiParam(q.r, "type") })
	if i < 0 {
		return notFound("no such challenge: %s", q.r.URL.Path)
	}
	w.Header().Add("Link", link(s.url(pathAuthz+az.ID), "up"))
	ch := &az.Challenges[i]
	if q.postAsGet() {
		writeJSON(w, http.StatusOK, s.challengeJSON(&az, ch))
		return nil
	}
	var req map[string]any
	if err := q.decode(&req); err != nil {
		return err
	}
	now := s.now().UTC()
	restart := ch.Status == statusProcessing && ch.Started != nil && now.Sub(*ch.Started) > s.challengeLost()
	if st := s.authzStatus(&az); st != statusPending || (ch.Status != statusPending && !restart) {
		// Nothing to do: answer with the challenge as it is (RFC 8555
		// §7.5.1 lets a client repeat its request).
		writeJSON(w, http.StatusOK, s.challengeJSON(&az, ch))
		return nil
	}
	keyAuth, err := KeyAuthorization(ch.Token, q.account.Key.Key)
	if err != nil {
		return err
	}
	ch.Status, ch.Started = statusProcessing, &now
	if err := s.cfg.Store.Put(ctx, []Write{put(authzKey(az.ID), &az, ver)}); err != nil {
		return storeErr(err, "authorization")
	}
	s.background.Add(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.validate(az.ID, ch.Type, az.Identifier, az.Wildcard, ch.Token, keyAuth)
	}()
	// Most validations take milliseconds: wait a little for the outcome so
	// the client's first poll finds it, rather than Retry-After later.
	select {
	case <-done:
		var now authorization
		if _, err := s.load(ctx, authzKey(az.ID), &now); err == nil {
			az = now
			ch = &az.Challenges[i]
		}
	case <-time.After(challengeWait):
		w.Header().Set("Retry-After", "1")
	case <-ctx.Done():
	}
	writeJSON(w, http.StatusOK, s.challengeJSON(&az, ch))
	return nil
}

// challengeWait is how long a challenge request waits for its validation
// before it answers "processing".
const challengeWait = 2 * time.Second

// validate checks a challenge and records the outcome on the challenge
// and its authorization (RFC 8555 §7.5.1: one failed challenge makes the
// authorization invalid).
func (s *Server) validate(authzID, typ string, ident Identifier, wildcard bool, token, keyAuth string) {
	defer s.background.Done()
	ctx := s.ctx
	start := time.Now()
	if wildcard {
		ident.Value = "*." + ident.Value
	}
	verr := s.cfg.Validator.Validate(ctx, typ, ident, token, keyAuth)
	outcome := "valid"
	if verr != nil {
		outcome = ProblemOf(verr).Type.Name()
	}
	s.metrics.challenges.WithLabelValues(typ, outcome).Inc()
	s.metrics.validation.WithLabelValues(typ).Observe(time.Since(start).Seconds())
	for attempt := 0; attempt < 5; attempt++ {
		var az authorization
		ver, err := s.load(ctx, authzKey(authzID), &az)
		if err != nil {
			s.log.Error("acme: record validation", "authz", authzID, "err", err)
			return
		}
		i := slices.IndexFunc(az.Challenges, func(c challenge) bool { return c.Type == typ })
		if i < 0 || az.Challenges[i].Status != statusProcessing || az.Status != statusPending {
			return // deactivated meanwhile, or another node recorded it
		}
		ch := &az.Challenges[i]
		now := s.now().UTC()
		if verr == nil {
			ch.Status, ch.Validated, az.Status = statusValid, &now, statusValid
			az.Expires = now.Add(s.cfg.AuthzLifetime)
		} else {
			ch.Status, ch.Error, az.Status = statusInvalid, ProblemOf(verr), statusInvalid
			ch.Error.Status = 0
		}
		err = s.cfg.Store.Put(ctx, []Write{put(authzKey(authzID), &az, ver)})
		if err == nil || !errors.Is(err, ErrVersionConflict) {
			if err != nil {
				s.log.Error("acme: record validation", "authz", authzID, "err", err)
			}
			return
		}
	}
}

// replace checks RFC 9773 "replaces": the certificate (by its ARI
// CertID) was issued to this account and no other order replaces it yet.
// It returns the write that marks it replaced by orderID.
func (s *Server) replace(ctx context.Context, q *request, certID, orderID string) (Write, error) {
	c, ver, err := s.issuedByCertID(ctx, certID)
	if err != nil {
		return Write{}, err
	}
	if c.Account != q.account.ID {
		return Write{}, ErrUnauthorized.Errorf("replaces: the certificate was not issued to this account")
	}
	if c.ReplacedBy != "" {
		return Write{}, ErrAlreadyReplaced.Errorf("the certificate is already replaced by order %s", s.url(pathOrder+c.ReplacedBy))
	}
	c.ReplacedBy = orderID
	return put(certKey(c.ID), c, ver), nil
}
