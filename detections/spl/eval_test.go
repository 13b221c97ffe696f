package spl

import (
	"testing"
)

// evalCase evaluates expr on one row holding a few fields.
func TestEvalFunctions(t *testing.T) {
	const fields = `| makeresults | eval s="Hello World", n="42", f=3.7, neg=-2.5, ip="10.1.2.3", mv=split("b,a,c,a", ","), empty="", t=1714564800`
	tests := []struct {
		expr, want string
	}{
		// literals, arithmetic, concatenation
		{`1+2*3`, "7"},
		{`(1+2)*3`, "9"},
		{`7/2`, "3.5"},
		{`7%3`, "1"},
		{`-n`, "-42"},
		{`n+1`, "43"},
		{`n."x"`, "42x"},
		{`"a"+"b"`, "ab"},
		{`s." !"`, "Hello World !"},
		{`1/0`, ""},
		{`nosuch."x"`, ""},
		{`0.1+0.2`, "0.30000000000000004"},
		{`10/2`, "5"},
		// conditionals
		{`if(n>40, "big", "small")`, "big"},
		{`if(n<40, "big", "small")`, "small"},
		{`case(n<10, "a", n<50, "b", true(), "c")`, "b"},
		{`case(n<10, "a")`, ""},
		{`coalesce(nosuch, empty, s)."!"`, "!"},
		{`coalesce(nosuch, s)`, "Hello World"},
		{`if(isnull(nosuch), "null", "set")`, "null"},
		{`if(isnotnull(s), "set", "null")`, "set"},
		{`if(isnum(n) AND NOT isnum(s), 1, 0)`, "1"},
		{`if(isstr(s), 1, 0)`, "1"},
		{`if(isint(f), 1, 0)`, "0"},
		{`typeof(n)`, "Number"},
		{`typeof(s)`, "String"},
		{`typeof(nosuch)`, "Invalid"},
		{`typeof(mv)`, "Multivalue"},
		{`if(in(s, "x", "Hello World"), 1, 0)`, "1"},
		{`null()`, ""},
		// precedence in eval: NOT > AND > OR
		{`if(1=1 OR 1=2 AND 1=2, "or-last", "and-last")`, "or-last"},
		{`if(NOT 1=2 AND 1=1, "y", "n")`, "y"},
		{`if(1=2 and 1=1 or 1=1, "y", "n")`, "y"},
		{`if(1=1 XOR 1=1, "y", "n")`, "n"},
		// comparisons: case-sensitive strings, numbers numerically
		{`if(s="hello world", "eq", "ne")`, "ne"},
		{`if(s=="Hello World", "eq", "ne")`, "eq"},
		{`if(n>"5", "num", "str")`, "num"},
		{`if("b">"a", 1, 0)`, "1"},
		{`if(mv="c", 1, 0)`, "1"},
		{`if(nosuch="x", 1, 0)`, "0"},
		{`if(s LIKE "Hello%", 1, 0)`, "1"},
		{`if(like(s, "_ello W%"), 1, 0)`, "1"},
		{`if(like(s, "hello%"), 1, 0)`, "0"},
		{`if(match(s, "^H.*d$"), 1, 0)`, "1"},
		{`if(match(s, "world"), 1, 0)`, "0"},
		{`if(match(s, "(?i)world"), 1, 0)`, "1"},
		{`if(cidrmatch("10.0.0.0/8", ip), 1, 0)`, "1"},
		{`if(cidrmatch("192.168.0.0/16", ip), 1, 0)`, "0"},
		{`if(cidrmatch("10.0.0.0/8", "not an ip"), 1, 0)`, "0"},
		{`if(searchmatch("s=hello*"), 1, 0)`, "1"},
		// strings
		{`lower(s)`, "hello world"},
		{`upper(s)`, "HELLO WORLD"},
		{`len(s)`, "11"},
		{`len("héllo")`, "5"},
		{`trim("  x  ")`, "x"},
		{`trim("xxaxx", "x")`, "a"},
		{`ltrim("  x ")`, "x "},
		{`rtrim(" x  ")`, " x"},
		{`substr(s, 1, 5)`, "Hello"},
		{`substr(s, 7)`, "World"},
		{`substr(s, -5)`, "World"},
		{`replace(s, "o", "0")`, "Hell0 W0rld"},
		{`replace(s, "(\w+) (\w+)", "\2 \1")`, "World Hello"},
		{`replace("a$b", "\$", "S")`, "aSb"},
		{`urldecode("a%20b%2Fc")`, "a b/c"},
		{`md5("abc")`, "900150983cd24fb0d6963f7d28e17f72"},
		{`sha256("abc")`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`tostring(n)`, "42"},
		{`tostring(1234567.891, "commas")`, "1,234,567.89"},
		{`tostring(3725, "duration")`, "01:02:05"},
		{`tostring(255, "hex")`, "0xFF"},
		{`tostring(1=1)`, "True"},
		{`tonumber("0x1F", 16)`, "31"},
		{`tonumber("12.5")`, "12.5"},
		{`tonumber("abc")`, ""},
		{`spath("{\"a\":{\"b\":[1,2]}}", "a.b{}")`, "1|2"},
		// numbers
		{`round(f)`, "4"},
		{`round(2.5)`, "3"},
		{`round(3.14159, 2)`, "3.14"},
		{`floor(f)`, "3"},
		{`ceil(f)`, "4"},
		{`ceiling(neg)`, "-2"},
		{`abs(neg)`, "2.5"},
		{`sqrt(16)`, "4"},
		{`pow(2, 10)`, "1024"},
		{`log(100)`, "2"},
		{`log(8, 2)`, "3"},
		{`exact(f)`, "3.7"},
		{`min(3, n, 1)`, "1"},
		{`max(3, n, 1)`, "42"},
		{`max(mv)`, "c"},
		{`min(5, "abc")`, "5"},
		// multivalue
		{`mvcount(mv)`, "4"},
		{`mvcount(s)`, "1"},
		{`mvcount(nosuch)`, ""},
		{`mvindex(mv, 0)`, "b"},
		{`mvindex(mv, -1)`, "a"},
		{`mvindex(mv, 1, 2)`, "a|c"},
		{`mvindex(mv, 9)`, ""},
		{`mvjoin(mv, ";")`, "b;a;c;a"},
		{`mvappend(s, mv, nosuch, "z")`, "Hello World|b|a|c|a|z"},
		{`mvfilter(mv!="a")`, "b|c"},
		{`mvfilter(match(mv, "^[ab]$"))`, "b|a|a"},
		{`mvdedup(mv)`, "b|a|c"},
		{`mvsort(mv)`, "a|a|b|c"},
		{`mvfind(mv, "c")`, "2"},
		{`mvzip(mv, mv, ":")`, "b:b|a:a|c:c|a:a"},
		{`split("a::b", "::")`, "a|b"},
		{`lower(mv)`, "b|a|c|a"},
		// time
		{`strftime(t, "%Y-%m-%dT%H:%M:%S.%3N%z")`, "2024-05-01T12:00:00.000+0000"},
		{`strftime(t, "%a %b %e %I:%M %p %j %A %B")`, "Wed May  1 12:00 PM 122 Wednesday May"},
		{`strftime(1714564800.25, "%H:%M:%S.%Q")`, "12:00:00.250"},
		{`strptime("2024-05-01T12:00:00Z", "%Y-%m-%dT%H:%M:%S%Z")`, "1714564800"},
		{`strptime("2024-05-01 14:00:00 +02:00", "%Y-%m-%d %H:%M:%S %:z")`, "1714564800"},
		{`strptime("05/01/2024 12:00:00.5", "%m/%d/%Y %H:%M:%S.%N")`, "1714564800.5"},
		{`strptime("nope", "%Y")`, ""},
		{`relative_time(t, "-1d@d")`, "1714435200"},
		{`relative_time(t, "@w1")`, "1714348800"},
		{`relative_time(t, "+1mon@mon")`, "1717200000"},
		{`now()`, "1714608000"},
		{`relative_time(now(), "-24h")`, "1714521600"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := runRows(t, fields+` | eval r=`+tc.expr+` | table r`, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := "r=" + tc.want
			if tc.want == "" {
				want = ""
			}
			if len(got) != 1 || got[0] != want {
				t.Fatalf("eval r=%s: got %q, want %q", tc.expr, got, want)
			}
		})
	}
}

func TestEvalErrors(t *testing.T) {
	runCases(t, nil, Options{}, []queryCase{
		{name: "boolean in a field", q: `| makeresults | eval x=1=1`, err: "cannot hold a boolean"},
		{name: "where on a non-boolean", q: `| makeresults | eval x="a" | where x`, err: "not true or false"},
		{name: "AND on strings", q: `| makeresults | where "a" AND 1=1`, err: "AND takes boolean operands"},
		{name: "bad regex from a field", q: `| makeresults | eval p="(" | where match("x", p)`, err: "regular expression"},
		{name: "multiple assignments see earlier ones", q: `| makeresults | eval a=2, b=a*3 | table a b`, want: []string{"a=2 b=6"}},
		{name: "quoted field names", q: `| makeresults | eval 'x.y'=5, z='x.y'+1 | table x.y z`, want: []string{"x.y=5 z=6"}},
		{name: "where with lower-case and", q: `| makeresults | eval a=5, b=1 | where a >= 5 and b >= 1 | table a`, want: []string{"a=5"}},
		{name: "where compares two fields", q: `| makeresults | eval a="x", b="x" | where a=b | table a`, want: []string{"a=x"}},
		{name: "searchmatch parsed with the query", q: `| makeresults | where searchmatch("a=(b")`, err: `searchmatch("a=(b")`},
		{name: "searchmatch of a whole expression only", q: `| makeresults | where searchmatch("a=b | head 1")`, err: `unexpected "|"`},
		{name: "searchmatch with IN, NOT and quotes", q: `| makeresults | eval a="x y", b="2" | where searchmatch("a IN (\"x y\", z) NOT b=1") | table a`, want: []string{"a=x y"}},
		{name: "searchmatch from a field", q: `| makeresults | eval a="x", s="a=x" | where searchmatch(s) | table a`, want: []string{"a=x"}},
		{name: "field named like a function", q: `| makeresults | eval match="No Match" | where match = "No Match" | table match`, want: []string{"match=No Match"}},
	})
}
