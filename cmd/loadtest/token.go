package main

import "fmt"

// Tokens identify one message of one sender in one run. A token is exactly
// tokenLen bytes:
//
//	'Z' r r r s s q q q c
//
// where rrr is a random run id (so that tokens of earlier runs, still on
// screen from the server's stored history, are never taken for this run's),
// ss the sender index and qqq the per-sender sequence number, all in lower
// case base 36 and zero padded, and c is a base-36 check digit over those
// eight digits. Every token has the same length, so no token can be a
// prefix of another; the leading upper-case 'Z' never occurs inside the
// base-36 body, and the scanner additionally requires the byte before the 'Z'
// to be a non-alphanumeric byte (or the start of the scanned row), so a token
// cannot be found inside a longer word. The check digit makes it very
// unlikely that a half-repainted row (old and new token mixed cell by cell)
// is taken for a third, valid token.
const (
	tokenLen     = 1 + runDigits + senderDigits + seqDigits + 1
	tokenMarker  = 'Z'
	runDigits    = 3
	senderDigits = 2
	seqDigits    = 3
	bodyDigits   = runDigits + senderDigits + seqDigits
	// maxRuns is the number of distinct run ids.
	maxRuns = 36 * 36 * 36
	// maxSenders is the number of distinct senders a token can encode.
	maxSenders = 36 * 36
	// maxSeq is the number of messages a single sender can send in one run.
	maxSeq = 36 * 36 * 36
)

// checkWeight is the weight of body digit i in the check digit. The weights
// are coprime with 36, so any single-digit change of the body changes the
// check digit.
func checkWeight(i int) int {
	return [bodyDigits]int{1, 5, 7, 11, 13, 17, 19, 23}[i]
}

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// b36val returns the value of a lower-case base-36 digit, or -1.
func b36val(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	}
	return -1
}

// tokenID identifies a message: the run, which sender sent it and its
// sequence number.
type tokenID struct {
	Run    int
	Sender int
	Seq    int
}

// appendToken appends the token for id to dst. It panics if a field is out
// of range; callers validate the configuration first.
func appendToken(dst []byte, id tokenID) []byte {
	if id.Run < 0 || id.Run >= maxRuns || id.Sender < 0 || id.Sender >= maxSenders || id.Seq < 0 || id.Seq >= maxSeq {
		panic(fmt.Sprintf("token out of range: %+v", id))
	}
	var d [bodyDigits]int
	d[0], d[1], d[2] = id.Run/(36*36), (id.Run/36)%36, id.Run%36
	d[3], d[4] = id.Sender/36, id.Sender%36
	d[5], d[6], d[7] = id.Seq/(36*36), (id.Seq/36)%36, id.Seq%36
	dst = append(dst, tokenMarker)
	sum := 0
	for i, v := range d {
		dst = append(dst, base36[v])
		sum += checkWeight(i) * v
	}
	return append(dst, base36[sum%36])
}

// makeToken returns the token for id as a string.
func makeToken(id tokenID) string {
	return string(appendToken(make([]byte, 0, tokenLen), id))
}

// parseToken decodes a token at the start of b. It reports false if b does
// not start with a complete, well-formed token with a valid check digit.
func parseToken(b []byte) (tokenID, bool) {
	if len(b) < tokenLen || b[0] != tokenMarker {
		return tokenID{}, false
	}
	var d [bodyDigits]int
	sum := 0
	for i := range d {
		v := b36val(b[1+i])
		if v < 0 {
			return tokenID{}, false
		}
		d[i] = v
		sum += checkWeight(i) * v
	}
	c := b36val(b[tokenLen-1])
	if c < 0 || c != sum%36 {
		return tokenID{}, false
	}
	return tokenID{
		Run:    d[0]*36*36 + d[1]*36 + d[2],
		Sender: d[3]*36 + d[4],
		Seq:    d[5]*36*36 + d[6]*36 + d[7],
	}, true
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// scanTokens calls fn for every token found in row. row holds one byte per
// screen cell (non-ASCII cells and wide-character continuation cells are
// represented by a zero byte, so columns are preserved). A token is reported
// as soon as its tokenLen bytes are present; the byte after it is not
// examined, so a token at the end of what has been drawn so far counts.
// prevAlnum tells whether the cell just before row[0] is alphanumeric (when
// row is a window into a longer screen row).
func scanTokens(row []byte, prevAlnum bool, fn func(tokenID)) {
	for i := 0; i+tokenLen <= len(row); i++ {
		if row[i] != tokenMarker {
			continue
		}
		if i == 0 && prevAlnum || i > 0 && isAlnum(row[i-1]) {
			continue
		}
		if id, ok := parseToken(row[i:]); ok {
			fn(id)
			i += tokenLen - 1
		}
	}
}
