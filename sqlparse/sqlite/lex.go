package sqlite

import "strings"

type tokKind uint8

const (
	tWord   tokKind = iota // keyword or bare identifier (upper-cased copy in up)
	tString                // '…' or x'…'
	tIdent                 // "…", `…` or […]
	tParam                 // ?, ?NNN, :name, @name, $name
	tPunct                 // operator or punctuation
)

type token struct {
	kind tokKind
	text string // as written
	up   string // upper case of a word
	gap  bool   // preceded by white space or a comment
}

// lex splits SQLite text into tokens, dropping comments. ok is false for an
// unterminated string, identifier or comment.
func lex(sql string) (toks []token, ok bool) {
	gap := false
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			gap = true
			continue
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return toks, true
			}
			i += j
			gap = true
			continue
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, false
			}
			i += j + 4
			gap = true
			continue
		}
		start, kind := i, tPunct
		switch {
		case (c == 'x' || c == 'X') && i+1 < len(sql) && sql[i+1] == '\'':
			end, ok := closeQuote(sql, i+1, '\'')
			if !ok {
				return nil, false
			}
			i, kind = end, tString
		case c == '\'':
			end, ok := closeQuote(sql, i, '\'')
			if !ok {
				return nil, false
			}
			i, kind = end, tString
		case c == '"' || c == '`' || c == '[':
			q := c
			if q == '[' {
				q = ']'
			}
			end, ok := closeQuote(sql, i, q)
			if !ok {
				return nil, false
			}
			i, kind = end, tIdent
		case c == '?':
			i++
			for i < len(sql) && sql[i] >= '0' && sql[i] <= '9' {
				i++
			}
			kind = tParam
		case (c == ':' || c == '@' || c == '$') && i+1 < len(sql) && wordByte(sql[i+1]):
			i++
			for i < len(sql) && wordByte(sql[i]) {
				i++
			}
			kind = tParam
		case wordByte(c):
			for i < len(sql) && wordByte(sql[i]) {
				i++
			}
			kind = tWord
		default:
			i++
			if strings.HasPrefix(sql[start:], "->>") {
				i += 2
			} else if i < len(sql) {
				switch sql[start : i+1] {
				case "<=", ">=", "<>", "!=", "==", "||", "<<", ">>", "->":
					i++
				}
			}
		}
		t := token{kind: kind, text: sql[start:i], gap: gap}
		if kind == tWord {
			t.up = strings.ToUpper(t.text)
		}
		toks = append(toks, t)
		gap = false
	}
	return toks, true
}

func wordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// closeQuote returns the index after the quote that closes the one at i
// (a doubled quote is part of the text, except in […]).
func closeQuote(sql string, i int, q byte) (int, bool) {
	for j := i + 1; j < len(sql); j++ {
		if sql[j] == q {
			if q != ']' && j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return 0, false
}

// split cuts tokens into statements at ';', dropping empty ones. The ';'
// inside a CREATE TRIGGER body do not cut: the trigger ends at "END;".
func split(toks []token) [][]token {
	var out [][]token
	start := 0
	for i, t := range toks {
		if t.kind == tPunct && t.text == ";" {
			if trigger(toks[start:i]) && toks[i-1].up != "END" {
				continue
			}
			if i > start {
				out = append(out, toks[start:i])
			}
			start = i + 1
		}
	}
	if start < len(toks) {
		out = append(out, toks[start:])
	}
	return out
}

// join writes tokens back as text, one space where the source had a gap.
func join(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.gap {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// trigger reports whether s starts CREATE [TEMP|TEMPORARY] TRIGGER.
func trigger(s []token) bool {
	if len(s) < 2 || s[0].up != "CREATE" {
		return false
	}
	if s[1].up == "TEMP" || s[1].up == "TEMPORARY" {
		s = s[1:]
	}
	return len(s) > 1 && s[1].up == "TRIGGER"
}
