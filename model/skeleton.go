package model

import "strings"

// confusableASCII is every entry of Unicode's confusables.txt (UTS #39,
// Unicode Security Mechanisms, section 4; version 10.0.0, and the same in
// the later versions checked) whose source is in the handle alphabet
// [A-Za-z0-9_.-], with its prototype:
//
//	0030 ; 004F  ( 0 → O )  DIGIT ZERO → LATIN CAPITAL LETTER O
//	0031 ; 006C  ( 1 → l )  DIGIT ONE → LATIN SMALL LETTER L
//	0049 ; 006C  ( I → l )  LATIN CAPITAL LETTER I → LATIN SMALL LETTER L
//	006D ; 0072 006E  ( m → rn )  LATIN SMALL LETTER M → R, N
//
// (Sources are single code points: there is no "vv → w" or "cl → d".)
var confusableASCII = map[byte]string{'0': "O", '1': "l", 'I': "l", 'm': "rn"}

// Skeleton returns the confusable skeleton of a handle key (the lowercased
// handle): two handles whose skeletons are equal look alike, like "alice",
// "aIice" and "a1ice", or "m0m" and "rnom".
//
// It is the UTS #39 skeleton made case-insensitive, since a handle's owner
// may show it in any case: every character of the key stands for both of
// its cases, each is mapped through confusableASCII and the result is
// lowercased. So 'i' (shown as 'I') folds with 'l' and '1'; '0' with 'o';
// 'm' becomes "rn". Keys outside the handle alphabet are mapped the same
// way (other bytes are kept).
func Skeleton(key string) string {
	var b strings.Builder
	b.Grow(len(key) + 4)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		p, ok := confusableASCII[c]
		if !ok && 'a' <= c && c <= 'z' {
			p, ok = confusableASCII[c-('a'-'A')]
		}
		if !ok {
			b.WriteByte(c)
			continue
		}
		b.WriteString(strings.ToLower(p))
	}
	return b.String()
}
