package validator_test

import (
	"testing"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
	vt "github.com/certchain/certchain/validator/validatortest"
)

func ownerTx(typ certchain.TxType, target certchain.Hash, reason certchain.Reason, proof []byte) *certchain.Tx {
	return &certchain.Tx{Type: typ, Submitter: certchain.OwnerSubmitter, Target: target, Reason: reason, Proof: proof}
}

func TestOwnerSignedStatusChanges(t *testing.T) {
	n, opts := newNet(t)
	for _, kt := range []vt.KeyType{vt.KeyP256, vt.KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			l := newLedger(t, n, opts)
			dev := n.SelfSigned(t, vt.WithKey(kt))
			other := n.SelfSigned(t, vt.WithKey(kt))
			id := l.publish(vt.Vendor, dev.DER)
			l.publish(vt.Vendor, other.DER)
			req := func(action string, reason string) validator.OwnerRequest {
				return validator.OwnerRequest{Network: n.Genesis.NetworkID, Action: action, Certificate: id.String(),
					Reason: reason, StatusHeight: l.view.records[id].StatusHeight}
			}
			wrongNet := req("suspend", "")
			wrongNet.Network = "another-consortium"
			tampered := vt.OwnerProof(t, dev.Key, req("suspend", ""))
			tampered[len(tampered)-2] ^= 'A' ^ 'B'
			for _, bad := range []struct {
				name  string
				proof []byte
				typ   certchain.TxType
				rule  string
			}{
				{"another device's key", vt.OwnerProof(t, other.Key, req("suspend", "")), certchain.TxSuspend, validator.RuleOwnerProof},
				{"altered signature", tampered, certchain.TxSuspend, validator.RuleOwnerProof},
				{"another network", vt.OwnerProof(t, dev.Key, wrongNet), certchain.TxSuspend, validator.RuleOwnerProof},
				{"signed for revoke, sent as suspend", vt.OwnerProof(t, dev.Key, req("revoke", "keyCompromise")), certchain.TxSuspend, validator.RuleOwnerProof},
				{"not a JWS", []byte("hello"), certchain.TxSuspend, validator.RuleOwnerProof},
				{"no proof", nil, certchain.TxSuspend, validator.RuleOwnerProof},
			} {
				before := l.view.snapshot(t)
				_, v := l.decide(ownerTx(bad.typ, id, 0, bad.proof))
				wantVerdict(t, v, certchain.Rejected, bad.rule)
				if string(l.view.snapshot(t)) != string(before) {
					t.Fatalf("%s: a refused owner request changed the state", bad.name)
				}
			}
			suspend := vt.OwnerProof(t, dev.Key, req("suspend", ""))
			l.must(ownerTx(certchain.TxSuspend, id, 0, suspend))
			l.must(ownerTx(certchain.TxResume, id, 0, vt.OwnerProof(t, dev.Key, req("resume", ""))))
			// The suspension signed earlier cannot be played again.
			_, v := l.decide(ownerTx(certchain.TxSuspend, id, 0, suspend))
			wantVerdict(t, v, certchain.Rejected, validator.RuleReplay)
			l.must(ownerTx(certchain.TxRevoke, id, certchain.ReasonKeyCompromise, vt.OwnerProof(t, dev.Key, req("revoke", "keyCompromise"))))
			if st := l.view.records[id].Status; st != certchain.StatusRevoked {
				t.Fatalf("after the owner's revocation: %s", st)
			}
			// A member may not attach an owner proof, nor may a publish.
			_, v = l.decide(&certchain.Tx{Type: certchain.TxPublish, Submitter: vt.Vendor, Cert: n.SelfSigned(t).DER, Proof: suspend})
			wantVerdict(t, v, certchain.Rejected, validator.RuleOwnerProof)
		})
	}
}

func FuzzParseOwnerProof(f *testing.F) {
	f.Add([]byte("eyJhbGciOiJFUzI1NiJ9.eyJhY3Rpb24iOiJzdXNwZW5kIn0.c2ln"))
	f.Add([]byte("a.b.c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := validator.ParseOwnerProof(b)
		if err == nil && req == nil {
			t.Fatal("no request and no error")
		}
	})
}

func TestOwnerSignedRenewal(t *testing.T) {
	n, opts := newNet(t)
	l := newLedger(t, n, opts)
	old := n.SelfSigned(t, vt.WithCN("SC-7"))
	id := l.publish(vt.Vendor, old.DER)
	next := n.SelfSigned(t, vt.WithCN("SC-7"))
	req := func(newDER []byte) validator.OwnerRequest {
		return validator.OwnerRequest{Network: n.Genesis.NetworkID, Action: "renew", Certificate: id.String(),
			New: certchain.Sum(newDER).String(), StatusHeight: l.view.records[id].StatusHeight}
	}
	renew := func(newDER, proof []byte) *certchain.Tx {
		return &certchain.Tx{Type: certchain.TxRenew, Submitter: certchain.OwnerSubmitter, Target: id, Cert: newDER, Proof: proof}
	}
	for _, bad := range []struct {
		name string
		tx   *certchain.Tx
		rule string
	}{
		{"signed by the new key", renew(next.DER, vt.OwnerProof(t, next.Key, req(next.DER))), validator.RuleOwnerProof},
		{"names another successor", renew(next.DER, vt.OwnerProof(t, old.Key, req(n.SelfSigned(t, vt.WithCN("SC-7")).DER))), validator.RuleOwnerProof},
		{"another identity", renew(n.SelfSigned(t, vt.WithCN("SC-8")).DER, nil), validator.RuleIdentityMismatch},
	} {
		if bad.tx.Proof == nil {
			bad.tx.Proof = vt.OwnerProof(t, old.Key, req(bad.tx.Cert))
		}
		_, v := l.decide(bad.tx)
		wantVerdict(t, v, certchain.Rejected, bad.rule)
	}
	proof := vt.OwnerProof(t, old.Key, req(next.DER))
	l.must(renew(next.DER, proof))
	if r := l.view.records[certchain.Sum(next.DER)]; r.Submitter != vt.Vendor || l.view.records[id].Status != certchain.StatusSuperseded {
		t.Fatalf("after the owner's renewal: new record by %q, old %s", r.Submitter, l.view.records[id].Status)
	}
	_, v := l.decide(renew(n.SelfSigned(t, vt.WithCN("SC-7")).DER, proof)) // the same request again
	wantVerdict(t, v, certchain.Rejected, validator.RuleState)             // the old certificate is superseded now
}
