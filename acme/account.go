package acme

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"
	"strings"
)

// accountJSON is the account resource as clients see it.
func (s *Server) accountJSON(a *account) map[string]any {
	m := map[string]any{"status": a.Status, "orders": s.url(pathAccount + a.ID + "/orders"), "key": a.Key}
	if len(a.Contact) > 0 {
		m["contact"] = a.Contact
	}
	if a.EAB != "" {
		m["externalAccountBinding"] = map[string]string{"kid": a.EAB}
	}
	return m
}

// newAccount serves RFC 8555 §7.3.
func (s *Server) newAccount(w http.ResponseWriter, q *request) error {
	var req struct {
		Contact              []string        `json:"contact"`
		TermsOfServiceAgreed bool            `json:"termsOfServiceAgreed"`
		OnlyReturnExisting   bool            `json:"onlyReturnExisting"`
		EAB                  json.RawMessage `json:"externalAccountBinding"`
	}
	if err := q.decode(&req); err != nil {
		return err
	}
	thumb, err := Thumbprint(q.jws.JWK.Key)
	if err != nil {
		return ErrBadPublicKey.Errorf("account key: %v", err)
	}
	ctx := q.r.Context()
	if a, err := s.accountByKey(ctx, thumb); err == nil {
		if a.Status != statusValid { // RFC 8555 §7.3.6: the key authorizes nothing more
			return ErrUnauthorized.Errorf("the account of this key is %s", a.Status)
		}
		w.Header().Set("Location", s.url(pathAccount+a.ID))
		writeJSON(w, http.StatusOK, s.accountJSON(a))
		return nil
	} else if !errors.Is(err, ErrNoObject) {
		return err
	}
	if req.OnlyReturnExisting {
		return ErrAccountDoesNotExist.Errorf("no account has this key")
	}
	if err := checkContacts(req.Contact); err != nil {
		return err
	}
	a := &account{ID: newID(), Status: statusValid, Contact: req.Contact, Key: q.jws.JWK, CreatedAt: s.now().UTC()}
	writes := []Write{put(accountKeyOf(a.ID), a, 0), put(keyIndexKey(thumb), accountRef{Account: a.ID}, 0)}
	if s.cfg.EABRequired || len(req.EAB) > 0 && string(req.EAB) != "null" {
		kid, err := VerifyEAB(ctx, q.jws, req.EAB, s.eabKey)
		if err != nil {
			return err
		}
		a.EAB = kid
		writes[0] = put(accountKeyOf(a.ID), a, 0)
		// An EAB key binds one account: creating its index entry
		// conflicts if another account used the key first.
		writes = append(writes, put(eabKey(kid), accountRef{Account: a.ID}, 0))
	}
	if err := s.cfg.Store.Put(ctx, writes); err != nil {
		if !errors.Is(err, ErrVersionConflict) {
			return err
		}
		// The same key registered concurrently (a client retrying), or
		// the EAB key was used already.
		if a, err := s.accountByKey(ctx, thumb); err == nil {
			w.Header().Set("Location", s.url(pathAccount+a.ID))
			writeJSON(w, http.StatusOK, s.accountJSON(a))
			return nil
		}
		return ErrUnauthorized.Errorf("external account key %q is bound to another account", a.EAB)
	}
	s.metrics.accounts.Inc()
	w.Header().Set("Location", s.url(pathAccount+a.ID))
	writeJSON(w, http.StatusCreated, s.accountJSON(a))
	return nil
}

func (s *Server) eabKey(_ context.Context, kid string) ([]byte, error) {
	if k, ok := s.cfg.EABKeys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnauthorized.Errorf("unknown external account key ID %q", kid)
}

func (s *Server) accountByKey(ctx context.Context, thumb string) (*account, error) {
	var ref accountRef
	if _, err := s.load(ctx, keyIndexKey(thumb), &ref); err != nil {
		return nil, err
	}
	a, _, err := s.getAccount(ctx, ref.Account)
	return a, err
}

// checkContacts accepts up to maxContacts "mailto:" URLs of one plain
// address each (RFC 8555 §7.3: the server may support only mailto).
func checkContacts(contacts []string) error {
	if len(contacts) > maxContacts {
		return ErrInvalidContact.Errorf("%d contacts (at most %d)", len(contacts), maxContacts)
	}
	for _, c := range contacts {
		addr, ok := strings.CutPrefix(c, "mailto:")
		if !ok {
			return ErrUnsupportedContact.Errorf("contact %q: only mailto: URLs are supported", quoteShort(c))
		}
		m, err := mail.ParseAddress(addr)
		if err != nil || m.Address != addr || m.Name != "" || strings.ContainsAny(addr, "?,") || len(addr) > 254 {
			return ErrInvalidContact.Errorf("contact %q is not a single plain e-mail address", quoteShort(c))
		}
	}
	return nil
}

// account serves the account resource (RFC 8555 §7.3.2, §7.3.6):
// POST-as-GET, a contact update, or deactivation.
func (s *Server) account(w http.ResponseWriter, q *request) error {
	if id := chiParam(q.r, "id"); id != q.account.ID {
		return ErrUnauthorized.Errorf("the request is signed by another account's key")
	}
	a := *q.account
	if !q.postAsGet() {
		var req struct {
			Contact *[]string `json:"contact"`
			Status  string    `json:"status"`
		}
		if err := q.decode(&req); err != nil {
			return err
		}
		switch req.Status {
		case "":
		case statusDeactivated:
			a.Status = statusDeactivated
		default:
			return ErrMalformed.Errorf("an account's status can only be changed to %q", statusDeactivated)
		}
		if req.Contact != nil {
			if err := checkContacts(*req.Contact); err != nil {
				return err
			}
			a.Contact = *req.Contact
		}
		if err := s.cfg.Store.Put(q.r.Context(), []Write{put(accountKeyOf(a.ID), &a, q.version)}); err != nil {
			return storeErr(err, "account")
		}
	}
	w.Header().Set("Location", s.url(pathAccount+a.ID))
	writeJSON(w, http.StatusOK, s.accountJSON(&a))
	return nil
}

// accountOrders lists the account's orders (RFC 8555 §7.1.2.1).
func (s *Server) accountOrders(w http.ResponseWriter, q *request) error {
	if chiParam(q.r, "id") != q.account.ID {
		return ErrUnauthorized.Errorf("the request is signed by another account's key")
	}
	prefix := accountOrdersPrefix(q.account.ID)
	keys, err := s.cfg.Store.List(q.r.Context(), prefix, maxListed)
	if err != nil {
		return err
	}
	urls := make([]string, len(keys))
	for i, k := range keys {
		urls[i] = s.url(pathOrder + strings.TrimPrefix(k, prefix))
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": urls})
	return nil
}

// keyChange serves RFC 8555 §7.3.5: the account moves to a new key that
// no other account holds.
func (s *Server) keyChange(w http.ResponseWriter, q *request) error {
	kc, err := VerifyKeyChange(q.jws, q.account.Key.Key)
	if err != nil {
		return err
	}
	oldThumb, err := Thumbprint(q.account.Key.Key)
	if err != nil {
		return err
	}
	newThumb, err := Thumbprint(kc.NewKey.Key)
	if err != nil {
		return ErrBadPublicKey.Errorf("new key: %v", err)
	}
	ctx := q.r.Context()
	if other, err := s.accountByKey(ctx, newThumb); err == nil {
		w.Header().Set("Location", s.url(pathAccount+other.ID))
		p := ErrMalformed.Errorf("another account already uses the new key")
		p.Status = http.StatusConflict
		return p
	}
	a := *q.account
	a.Key = kc.NewKey
	err = s.cfg.Store.Put(ctx, []Write{
		put(accountKeyOf(a.ID), &a, q.version),
		{Key: keyIndexKey(oldThumb), Version: anyVersion},
		put(keyIndexKey(newThumb), accountRef{Account: a.ID}, 0),
	})
	if err != nil {
		return storeErr(err, "account key")
	}
	w.Header().Set("Location", s.url(pathAccount+a.ID))
	writeJSON(w, http.StatusOK, s.accountJSON(&a))
	return nil
}
