package api

import (
	"encoding/json"
	"net/http"

	"github.com/certchain/certchain/certchain"
	"github.com/go-chi/chi/v5"
)

// whoami is GET /v1/whoami: the member the client certificate names (a
// client signing its transactions needs its member name).
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	name, err := s.member(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"member": name})
}

// memberList is GET /v1/members: the current member set, each with the
// height of its last change (0: as the genesis made it), which a signed
// change names as its Seen.
func (s *Server) memberList(w http.ResponseWriter, _ *http.Request) {
	g := s.Reader.Genesis()
	out := make([]certchain.MemberRecord, len(g.Members))
	for i, m := range g.Members {
		h, err := s.Reader.MemberHeight(m.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		out[i] = certchain.MemberRecord{Member: m, Height: h}
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": out})
}

// memberSet is POST /v1/members: an admin adds a member or replaces the
// member of that name. The body is the member as in the genesis (name,
// role, cert, ca_certs, ocsp_signers, namespace); the ledger checks it
// and the change applies from the next block.
func (s *Server) memberSet(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r, s.Limits.OtherBody)
	if err == nil {
		_, err = certchain.DecodeMember(body)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeNodeTx(w, r, certchain.Tx{Type: certchain.TxMemberSet, Member: body})
}

// memberRemove is DELETE /v1/members/{name}: an admin removes a member;
// its identity certificate no longer authenticates from the next block.
func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(map[string]string{"name": chi.URLParam(r, "name")})
	s.writeNodeTx(w, r, certchain.Tx{Type: certchain.TxMemberRemove, Member: b})
}
