package plugin

import (
	"slices"
	"testing"
)

func TestCertDirsFor(t *testing.T) {
	tests := map[string]struct {
		goos, host, configDir, home string
		env                         map[string]string
		want                        []string
	}{
		"linux": {
			goos: "linux", host: "reg.example.com:5000", configDir: "/home/u/.docker", home: "/home/u",
			want: []string{
				"/etc/docker/certs.d/reg.example.com:5000",
				"/home/u/.config/docker/certs.d/reg.example.com:5000",
				"/home/u/.docker/certs.d/reg.example.com:5000",
			},
		},
		"linux rootless XDG and another config dir": {
			goos: "linux", host: "reg:443", configDir: "/tmp/cfg", home: "/home/u",
			env: map[string]string{"XDG_CONFIG_HOME": "/xdg"},
			want: []string{
				"/etc/docker/certs.d/reg:443",
				"/xdg/docker/certs.d/reg:443",
				"/home/u/.docker/certs.d/reg:443",
				"/tmp/cfg/certs.d/reg:443",
			},
		},
		"darwin: Docker Desktop only": {
			goos: "darwin", host: "reg.example.com:5000", configDir: "/Users/u/.docker", home: "/Users/u",
			want: []string{"/Users/u/.docker/certs.d/reg.example.com:5000"},
		},
		"windows: ProgramData, no colon": {
			goos: "windows", host: "reg.example.com:5000", configDir: `C:\Users\u\.docker`, home: `C:\Users\u`,
			env: map[string]string{"ProgramData": `C:\ProgramData`},
			want: []string{
				`C:\ProgramData\docker\certs.d\reg.example.com5000`,
				`C:\Users\u\.docker\certs.d\reg.example.com5000`,
			},
		},
		"windows without ProgramData": {
			goos: "windows", host: "reg", configDir: `D:\cfg`, home: `C:\Users\u`,
			want: []string{`C:\Users\u\.docker\certs.d\reg`, `D:\cfg\certs.d\reg`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := certDirsFor(tc.goos, tc.host, tc.configDir, tc.home, func(k string) string { return tc.env[k] })
			if !slices.Equal(got, tc.want) {
				t.Errorf("certDirsFor:\n got  %q\n want %q", got, tc.want)
			}
		})
	}
}
