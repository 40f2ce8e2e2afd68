package validator

import (
	"encoding/asn1"
	"math/big"
)

// SerialOf returns the serial number of the DER certificate der without
// parsing the rest of it (an answer to a bulk publish names each
// certificate's serial; a full parse would cost as much again as the
// precheck's). ok is false when der does not start like a certificate.
func SerialOf(der []byte) (serial *big.Int, ok bool) {
	var cert, tbs, first asn1.RawValue
	if _, err := asn1.Unmarshal(der, &cert); err != nil || cert.Tag != asn1.TagSequence {
		return nil, false
	}
	if _, err := asn1.Unmarshal(cert.Bytes, &tbs); err != nil || tbs.Tag != asn1.TagSequence {
		return nil, false
	}
	rest, err := asn1.Unmarshal(tbs.Bytes, &first)
	if err != nil {
		return nil, false
	}
	if first.Class == asn1.ClassContextSpecific && first.Tag == 0 { // [0] version
		if _, err := asn1.Unmarshal(rest, &first); err != nil {
			return nil, false
		}
	}
	if first.Class != asn1.ClassUniversal || first.Tag != asn1.TagInteger {
		return nil, false
	}
	if _, err := asn1.Unmarshal(first.FullBytes, &serial); err != nil {
		return nil, false
	}
	return serial, true
}
