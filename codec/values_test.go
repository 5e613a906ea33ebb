package codec

import (
	"errors"
	"testing"
)

func TestByteRange(t *testing.T) {
	tests := []struct {
		in   string
		want ByteRange
		err  error
	}{
		{"1-25/25", ByteRange{1, 25, 25}, nil},
		{"1-0/0", ByteRange{1, 0, 0}, nil},
		{"1-*/*", ByteRange{1, Unknown, Unknown}, nil},
		{"2049-*/8000", ByteRange{2049, Unknown, 8000}, nil},
		{"138-148/*", ByteRange{138, 148, Unknown}, nil},
		{"0-1/1", ByteRange{}, ErrBadByteRange},
		{"5-3/10", ByteRange{}, ErrBadByteRange},
		{"1-11/10", ByteRange{}, ErrBadByteRange},
		{"*-1/1", ByteRange{}, ErrBadByteRange},
		{"1-1/1 ", ByteRange{}, ErrBadByteRange},
		{"1-1", ByteRange{}, ErrBadByteRange},
		{"1--1/1", ByteRange{}, ErrBadByteRange},
		{"1-1/1234567890123456789", ByteRange{}, ErrBadByteRange},
		{"", ByteRange{}, ErrBadByteRange},
	}
	for _, tc := range tests {
		got, err := ParseByteRange([]byte(tc.in))
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("%q: got %+v, %v", tc.in, got, err)
		}
		if err == nil {
			if s := string(AppendByteRange(nil, got)); s != tc.in {
				t.Errorf("%q re-encoded as %q", tc.in, s)
			}
		}
	}
}

func TestStatusAndReports(t *testing.T) {
	s, err := ParseStatus([]byte("000 408 Request Timeout"))
	if err != nil || s.Namespace != 0 || s.Code != 408 || string(s.Comment) != "Request Timeout" {
		t.Fatalf("%+v %v", s, err)
	}
	if s, err := ParseStatus([]byte("000 200")); err != nil || s.Code != 200 || s.Comment != nil {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"", "000", "000 20", "0a0 200", "000 200x"} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := string(AppendStatus(nil, 408, "Request Timeout")); got != "000 408 Request Timeout" {
		t.Fatal(got)
	}
	for _, tc := range []struct {
		in      string
		partial bool
		want    Report
		ok      bool
	}{{"yes", false, ReportYes, true}, {"NO", false, ReportNo, true}, {"partial", true, ReportPartial, true}, {"partial", false, 0, false}, {"maybe", true, 0, false}} {
		got, err := parseReport([]byte(tc.in), tc.partial)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("%q: %v %v", tc.in, got, err)
		}
	}
}

func TestFrameDefaults(t *testing.T) {
	var f Frame
	if _, err := f.Parse(crlf("MSRP abcd SEND\nTo-Path: msrp://a:1/s;tcp\nFrom-Path: msrp://b:1/s;tcp\nExpires: 900\n-------abcd$\n"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.ByteRange(); r != (ByteRange{1, Unknown, Unknown}) || f.HasByteRange() {
		t.Fatalf("default byte-range %+v", r)
	}
	if sr, _ := f.SuccessReport(); sr != ReportNo {
		t.Fatal("Success-Report default is no")
	}
	if fr, _ := f.FailureReport(); fr != ReportYes {
		t.Fatal("Failure-Report default is yes")
	}
	if v, ok, err := f.Expires(); v != 900 || !ok || err != nil {
		t.Fatal("Expires", v, ok, err)
	}
	if _, ok, _ := f.MinExpires(); ok {
		t.Fatal("Min-Expires absent")
	}
}

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  error
	}{
		{"0", 0, nil},
		{"600", 600, nil},
		{"999999999999999999", 999999999999999999, nil},
		{"9999999999999999999", 0, ErrTooLarge},
		{"99999999999999999999999", 0, ErrTooLarge},
		{"", 0, ErrBadValue},
		{"abc", 0, ErrBadValue},
		{"-5", 0, ErrBadValue},
		{"60s", 0, ErrBadValue},
		{"99999999999999999999x", 0, ErrBadValue},
	} {
		v, err := ParseUint([]byte(tc.in))
		if v != tc.want || err != tc.err {
			t.Errorf("ParseUint(%q) = %d, %v; want %d, %v", tc.in, v, err, tc.want, tc.err)
		}
	}
}
