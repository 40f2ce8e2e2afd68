package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
)

// certBatch is a decoded publish or renew body: certificates to publish
// and the intermediates that chain them.
type certBatch struct {
	Certs [][]byte
	Chain [][]byte
	Sigs  [][]byte // the members' signatures of the publish transactions, one per certificate, or none
}

// publishJSON is the JSON form of a publish request.
type publishJSON struct {
	Certificates []string `json:"certificates"`
	Chain        []string `json:"chain,omitempty"`
	// Signatures (base64) sign the publish transaction of each
	// certificate, in order (certchain.Tx.SigningInput).
	Signatures []string `json:"signatures,omitempty"`
}

// statusJSON is the optional body of revoke, suspend and resume.
type statusJSON struct {
	Reason json.RawMessage `json:"reason,omitempty"` // RFC 5280 name or code
}

// readBody reads at most limit bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &reasonError{kind: errTooLarge, reason: fmt.Sprintf("request body exceeds %d bytes", limit)}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %v", certchain.ErrInvalid, err)
	}
	return b, nil
}

// mediaType returns the request's media type ("" when absent).
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", &reasonError{kind: errMediaType, reason: "bad Content-Type: " + err.Error()}
	}
	return mt, nil
}

// decodeCerts decodes a publish body. Accepted media types: application/json
// (publishJSON), PEM (application/x-pem-file, application/pem-certificate-chain,
// text/plain, or none), and one DER certificate (application/pkix-cert).
func decodeCerts(mt string, body []byte, maxCerts int) (*certBatch, error) {
	switch mt {
	case "application/json":
		var req publishJSON
		if err := decodeJSON(body, &req); err != nil {
			return nil, err
		}
		b, err := splitPEMs(req.Certificates, req.Chain, maxCerts)
		if err != nil || len(req.Signatures) == 0 {
			return b, err
		}
		if len(req.Signatures) != len(b.Certs) {
			return nil, fmt.Errorf("%w: %d signatures for %d certificates", certchain.ErrInvalid, len(req.Signatures), len(b.Certs))
		}
		for i, sig := range req.Signatures {
			d, err := base64.StdEncoding.DecodeString(sig)
			if err != nil {
				return nil, fmt.Errorf("%w: signature %d is not base64", certchain.ErrInvalid, i)
			}
			b.Sigs = append(b.Sigs, d)
		}
		return b, nil
	case "", "application/x-pem-file", "application/pem-certificate-chain", "text/plain":
		ders, err := validator.ParsePEM(body, maxCerts)
		if err != nil {
			return nil, fmt.Errorf("PEM body: %w", err)
		}
		leaves, chain := validator.SplitChain(ders)
		return &certBatch{Certs: leaves, Chain: chain}, nil
	case "application/pkix-cert":
		return &certBatch{Certs: [][]byte{body}}, nil
	default:
		return nil, &reasonError{kind: errMediaType, reason: "use application/json, application/x-pem-file or application/pkix-cert, not " + mt}
	}
}

func splitPEMs(certs, chain []string, maxCerts int) (*certBatch, error) {
	if len(certs)+len(chain) > maxCerts {
		return nil, &reasonError{kind: errTooLarge, reason: fmt.Sprintf("more than %d certificates in one request", maxCerts)}
	}
	var b certBatch
	for _, set := range []struct {
		in  []string
		out *[][]byte
	}{{certs, &b.Certs}, {chain, &b.Chain}} {
		for i, p := range set.in {
			ders, err := validator.ParsePEM([]byte(p), 1)
			if err != nil || len(ders) != 1 {
				return nil, fmt.Errorf("%w: entry %d must hold exactly one PEM certificate (%v)", certchain.ErrInvalid, i, err)
			}
			*set.out = append(*set.out, ders[0])
		}
	}
	if len(b.Certs) == 0 {
		return nil, fmt.Errorf("%w: no certificates in the request", certchain.ErrInvalid)
	}
	return &b, nil
}

// decodeReason decodes the optional revoke reason (default unspecified).
func decodeReason(body []byte) (certchain.Reason, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return certchain.ReasonUnspecified, nil
	}
	var req statusJSON
	if err := decodeJSON(body, &req); err != nil {
		return 0, err
	}
	if len(req.Reason) == 0 {
		return certchain.ReasonUnspecified, nil
	}
	var name string
	if err := json.Unmarshal(req.Reason, &name); err != nil {
		name = string(req.Reason) // a bare number
	}
	return certchain.ParseReason(name)
}

// decodeJSON decodes exactly one JSON value, refusing unknown fields.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: JSON body: %v", certchain.ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: JSON body: data after the value", certchain.ErrInvalid)
	}
	return nil
}
