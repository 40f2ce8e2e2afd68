package api

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/certchain/certchain/certchain"
	"github.com/certchain/certchain/validator"
)

// certBatch is a decoded publish or renew body: one item per certificate
// of the input, in input order (chain certificates and malformed entries
// included), and the chain the certificates are published with.
type certBatch struct {
	Items []streamItem
	Chain [][]byte
}

// published returns the items that are to be published (neither chain
// nor malformed).
func (b *certBatch) published() []streamItem {
	var out []streamItem
	for _, it := range b.Items {
		if !it.asChain && it.err == nil {
			out = append(out, it)
		}
	}
	return out
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
// What cannot be told apart into entries (bad JSON, text between PEM
// blocks, more than maxCerts) is an error of the whole request; an entry
// that is malformed is an item with its reason.
func decodeCerts(mt string, body []byte, maxCerts int) (*certBatch, error) {
	switch mt {
	case "application/json":
		var req publishJSON
		if err := decodeJSON(body, &req); err != nil {
			return nil, err
		}
		return decodeJSONBatch(&req, maxCerts)
	case "", "application/x-pem-file", "application/pem-certificate-chain", "text/plain":
		return decodePEMBatch(body, maxCerts)
	case "application/pkix-cert":
		return &certBatch{Items: []streamItem{{der: body}}}, nil
	default:
		return nil, &reasonError{kind: errMediaType, reason: "use application/json, application/x-pem-file or application/pkix-cert, not " + mt}
	}
}

// decodePEMBatch reads every block of a PEM bundle as an item and marks
// the chain among them (validator.ChainOf): CA certificates that issued
// another certificate of the bundle. Every other item is published with
// that chain.
func decodePEMBatch(body []byte, maxCerts int) (*certBatch, error) {
	blocks := newPEMBlocks(bytes.NewReader(body))
	var b certBatch
	var certs []*x509.Certificate
	for {
		it, err := blocks.entry()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("PEM body: %w", err)
		}
		if len(b.Items) == maxCerts {
			return nil, &reasonError{kind: errTooLarge, reason: fmt.Sprintf("more than %d certificates in one request", maxCerts)}
		}
		b.Items, certs = append(b.Items, it), append(certs, it.cert)
	}
	if len(b.Items) == 0 {
		return nil, fmt.Errorf("PEM body: %w", entryErr(validator.RuleDER, "no PEM CERTIFICATE block"))
	}
	seen := make(map[string]bool) // a chain certificate sent twice chains once
	for i, isChain := range validator.ChainOf(certs) {
		if isChain {
			b.Items[i].asChain = true
			if der := b.Items[i].der; !seen[string(der)] {
				seen[string(der)] = true
				b.Chain = append(b.Chain, der)
			}
		}
	}
	for i := range b.Items {
		it := &b.Items[i]
		if !it.asChain {
			it.chain = chainFor(it.cert, b.Chain)
		}
		it.cert = nil
	}
	return &b, nil
}

// decodeJSONBatch decodes the entries of a JSON publish body. A bad chain
// entry or signature list fails the request; a bad certificate entry is
// an item with its reason.
func decodeJSONBatch(req *publishJSON, maxCerts int) (*certBatch, error) {
	if len(req.Certificates)+len(req.Chain) > maxCerts {
		return nil, &reasonError{kind: errTooLarge, reason: fmt.Sprintf("more than %d certificates in one request", maxCerts)}
	}
	if len(req.Certificates) == 0 {
		return nil, fmt.Errorf("%w: no certificates in the request", certchain.ErrInvalid)
	}
	if len(req.Signatures) > 0 && len(req.Signatures) != len(req.Certificates) {
		return nil, fmt.Errorf("%w: %d signatures for %d certificates", certchain.ErrInvalid, len(req.Signatures), len(req.Certificates))
	}
	var b certBatch
	for i, p := range req.Chain {
		der, err := validator.DecodePEM([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("%w: chain entry %d must hold exactly one PEM certificate (%v)", certchain.ErrInvalid, i, err)
		}
		b.Chain = append(b.Chain, der)
	}
	b.Items = make([]streamItem, len(req.Certificates))
	for i, p := range req.Certificates {
		it := &b.Items[i]
		if it.der, it.err = validator.DecodePEM([]byte(p)); it.err != nil {
			it.err = entryErr(validator.RuleDER, "entry %d: %s", i, strings.TrimPrefix(reasonOf(it.err), "PEM block 1: "))
			continue
		}
		if len(b.Chain) > 0 {
			c, _ := validator.ParseDER(it.der) // one that does not parse is rejected with its reason anyway
			it.chain = chainFor(c, b.Chain)
		}
		if len(req.Signatures) > 0 {
			if it.sig, it.err = base64.StdEncoding.DecodeString(req.Signatures[i]); it.err != nil {
				it.err = entryErr(validator.RuleSignature, "signature %d is not base64", i)
			}
		}
	}
	return &b, nil
}

// chainFor is the chain a certificate of a bundle is published with: the
// bundle's chain, except for a self-signed (self-issued) certificate,
// which takes none (rule "chain"), so one bundle may mix self-signed and
// CA-signed certificates. c nil: one that does not parse.
func chainFor(c *x509.Certificate, chain [][]byte) [][]byte {
	if c != nil && bytes.Equal(c.RawIssuer, c.RawSubject) {
		return nil
	}
	return chain
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
