package changefeed

import "testing"

// A saved position reads back as written, whatever the GTID flavor.
func TestStreamPosRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want streamPos
	}{
		{"bin.000002:1234", streamPos{binlogPos{"bin.000002", 1234}, ""}},
		{"bin.000002:1234 gtid=0-1-42,1-2-7", streamPos{binlogPos{"bin.000002", 1234}, "0-1-42,1-2-7"}},
		{"mysql-bin.000009:4 gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11,4e11fa47-71ca-11e1-9e33-c80aa9429562:1",
			streamPos{binlogPos{"mysql-bin.000009", 4}, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11,4e11fa47-71ca-11e1-9e33-c80aa9429562:1"}},
		{"gtid=0-1-42", streamPos{gtid: "0-1-42"}},
	} {
		got, ok := parseStreamPos(tc.in)
		if !ok || got != tc.want {
			t.Errorf("parse %q = %+v, %v; want %+v", tc.in, got, ok, tc.want)
		}
		if s := got.String(); s != tc.in {
			t.Errorf("%+v formats as %q, want %q", got, s, tc.in)
		}
	}
	for _, bad := range []string{"", "bin.000002", "bin.000002:x", "bin.000002:1 gtid=", ":5"} {
		if p, ok := parseStreamPos(bad); ok {
			t.Errorf("parse %q = %+v, want an error", bad, p)
		}
	}
}
