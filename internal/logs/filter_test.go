package logs

import "testing"

func TestParsePattern(t *testing.T) {
	cases := []struct {
		pattern string
		msg     string
		want    bool
	}{
		{"", "anything", true},
		{"ERROR", "an ERROR here", true},
		{"ERROR", "an error here", false}, // case-sensitive, as on AWS
		{"ERROR timeout", "timeout then ERROR", true},
		{"ERROR timeout", "ERROR only", false},
		{`"timed out"`, "Task timed out after 3.00 seconds", true},
		{`"out timed"`, "Task timed out after 3.00 seconds", false},
		{`"say \"hi\""`, `they say "hi" loudly`, true},
		{"?ERROR ?WARN", "WARN: disk", true},
		{"?ERROR ?WARN", "INFO: fine", false},
		{"ERROR -retrying", "ERROR: retrying", false},
		{"ERROR -retrying", "ERROR: giving up", true},
		{"-", "a - b", true}, // a lone dash is a term
	}
	for _, tc := range cases {
		t.Run(tc.pattern+"/"+tc.msg, func(t *testing.T) {
			p, err := parsePattern(tc.pattern)
			if err != nil {
				t.Fatalf("parsePattern: %v", err)
			}
			if got := p.match([]byte(tc.msg)); got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{`{ $.a = 1 }`, `[ip, user]`, `%ERR.*%`, `"unterminated`} {
		if _, err := parsePattern(bad); err == nil {
			t.Errorf("parsePattern(%q): no error", bad)
		}
	}
}

func TestTokens(t *testing.T) {
	for _, tok := range []string{"f/0", "b/12345678901234", "f/" + "18446744073709551615"} {
		dir, pos, ok := parseToken(tok)
		if !ok || formatToken(dir, pos) != tok {
			t.Errorf("round trip of %q: %c %d %v", tok, dir, pos, ok)
		}
	}
	for _, tok := range []string{"", "f/", "x/1", "f/-1", "f1", "f/1a"} {
		if _, _, ok := parseToken(tok); ok {
			t.Errorf("parseToken(%q) accepted", tok)
		}
	}
	g, s, ok := splitSubject("logs", subjectFor("logs", "/aws/lambda/f", "2026/11/25/[$LATEST]ab.cd"))
	gn, _ := untoken(g)
	sn, _ := untoken(s)
	if !ok || gn != "/aws/lambda/f" || sn != "2026/11/25/[$LATEST]ab.cd" {
		t.Errorf("subject round trip: %q %q %v", gn, sn, ok)
	}
}
