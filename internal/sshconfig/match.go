package sshconfig

// matchPattern reports whether s matches pattern, where "*" matches any
// run of bytes and "?" exactly one, as ssh's match_pattern.
func matchPattern(s, pattern string) bool {
	si, pi := 0, 0
	star, mark := -1, 0 // the last "*" seen, and where its match ends
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			mark++
			si, pi = mark, star+1
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
