package feeds

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/taxii"
)

// Defaults of a feed whose configuration leaves them out.
const (
	DefaultRefresh = time.Hour
	DefaultTimeout = 2 * time.Minute
)

// fileSpec is the configuration file as written.
type fileSpec struct {
	Feeds []feedSpec `yaml:"feeds"`
}

// feedSpec is one feed as written in the configuration file.
type feedSpec struct {
	Name       string     `yaml:"name"`
	URL        string     `yaml:"url"`
	Path       string     `yaml:"path"`
	TAXII      *taxiiSpec `yaml:"taxii"`
	Format     string     `yaml:"format"`
	Type       string     `yaml:"type"`
	Column     int        `yaml:"column"`
	Refresh    string     `yaml:"refresh"`
	Timeout    string     `yaml:"timeout"`
	Auth       *authSpec  `yaml:"auth"`
	TLP        string     `yaml:"tlp"`
	Confidence *int       `yaml:"confidence"`
}

type taxiiSpec struct {
	APIRoot    string   `yaml:"api_root"`
	Collection string   `yaml:"collection"`
	Types      []string `yaml:"types"`
}

type authSpec struct {
	Type        string `yaml:"type"`
	TokenEnv    string `yaml:"token_env"`
	UserEnv     string `yaml:"user_env"`
	PasswordEnv string `yaml:"password_env"`
	Header      string `yaml:"header"`
}

// Config is a validated feeds configuration.
type Config struct {
	Path  string // the file it was read from
	Feeds []*Feed
}

// Feed is one validated feed: where it comes from and how it is read.
type Feed struct {
	Name string
	// Exactly one of URL, Path and TAXII is set.
	URL   *url.URL
	Path  string // absolute, or relative to the working directory
	TAXII *TAXIISource
	// Format of the feed; intel.FormatAuto recognises it from the content.
	Format intel.Format
	// Type and Column say how plain lists and CSV files are read (see
	// intel.LoadOptions).
	Type   intel.Type
	Column int
	// Refresh is how long a copy is good for: update skips a feed checked
	// less than Refresh ago (unless forced).
	Refresh time.Duration
	Timeout time.Duration
	Auth    Auth
	// TLP and Confidence are given to entries that state none ("" and 0:
	// no default).
	TLP        string
	Confidence int
}

// TAXIISource is a TAXII 2.1 collection.
type TAXIISource struct {
	APIRoot    string // the API root's URL
	Collection string // the collection's id
	Types      []string
}

// Auth names the environment variables holding a feed's credentials. The
// configuration never holds the secrets themselves.
type Auth struct {
	Type        string // "", "bearer", "basic" or "header"
	TokenEnv    string // bearer and header
	UserEnv     string // basic
	PasswordEnv string // basic
	Header      string // header: the header's name, e.g. Auth-Key
}

// loadOptions returns how the feed's files are read.
func (f *Feed) loadOptions() intel.LoadOptions {
	return intel.LoadOptions{Format: f.Format, Type: f.Type, Column: f.Column}
}

// Where returns where the feed comes from, without credentials.
func (f *Feed) Where() string {
	switch {
	case f.URL != nil:
		return f.URL.Redacted()
	case f.TAXII != nil:
		return f.TAXII.APIRoot + "collections/" + f.TAXII.Collection + "/"
	}
	return f.Path
}

// ConfigError is one problem of a configuration file, at a line and column.
type ConfigError struct {
	Path      string
	Line, Col int
	Msg       string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

// ConfigErrors is every problem of a configuration file.
type ConfigErrors []*ConfigError

func (l ConfigErrors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// LoadConfig reads and validates a feeds configuration file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// formats maps the names a configuration may use to intel's formats.
var formats = map[string]intel.Format{
	"stix":        intel.FormatSTIX,
	"misp-event":  intel.FormatMISPEvent,
	"misp":        intel.FormatMISPEvent,
	"misp-feed":   intel.FormatMISPFeed,
	"csv":         intel.FormatCSV,
	"plain":       intel.FormatText,
	"text":        intel.FormatText,
	"kev":         intel.FormatKEV,
	"json-list":   intel.FormatJSONList,
	"warninglist": intel.FormatWarninglist,
}

// ParseConfig validates a configuration; path names it in errors and
// relative feed paths are taken from its folder. Every problem is reported,
// each with its line and column, as ConfigErrors.
func ParseConfig(path string, data []byte) (*Config, error) {
	var spec fileSpec
	if err := yaml.UnmarshalWithOptions(data, &spec, yaml.Strict()); err != nil {
		return nil, ConfigErrors{{Path: path, Msg: "not a valid feeds configuration: " + yaml.FormatError(err, false, false)}}
	}
	file, _ := parser.ParseBytes(data, 0)
	var errs ConfigErrors
	at := func(yamlPath, format string, args ...any) {
		e := &ConfigError{Path: path, Msg: fmt.Sprintf(format, args...)}
		e.Line, e.Col = position(file, yamlPath)
		errs = append(errs, e)
	}
	cfg := &Config{Path: path}
	if len(spec.Feeds) == 0 {
		at("$", "no feeds: list them under feeds: (each with a name and a url, path or taxii)")
	}
	seen := map[string]bool{}
	for i, fs := range spec.Feeds {
		p := "$.feeds[" + strconv.Itoa(i) + "]"
		f := &Feed{Name: fs.Name, Column: fs.Column, Refresh: DefaultRefresh, Timeout: DefaultTimeout}
		switch {
		case fs.Name == "":
			at(p, "feed %d has no name: give it one (letters, digits, '.', '_', '-'); it names the file in the cache", i+1)
		case !nameRE.MatchString(fs.Name):
			at(p+".name", "feed name %q: use letters, digits, '.', '_' and '-' (it names the file in the cache)", fs.Name)
		case seen[strings.ToLower(fs.Name)]:
			at(p+".name", "feed name %q is used twice: names must be unique", fs.Name)
		}
		seen[strings.ToLower(fs.Name)] = true
		sources := 0
		if fs.URL != "" {
			sources++
			u, err := url.Parse(fs.URL)
			switch {
			case err != nil:
				at(p+".url", "url: %v", err)
			case u.Scheme != "http" && u.Scheme != "https":
				at(p+".url", "url %q: want an http:// or https:// URL (use path: for a local file)", u.Redacted())
			case u.Host == "":
				at(p+".url", "url %q has no host", u.Redacted())
			case u.User != nil:
				at(p+".url", "url %q holds credentials: remove them and name the environment variables that hold them under auth:", u.Redacted())
			default:
				f.URL = u
			}
		}
		if fs.Path != "" {
			sources++
			f.Path = fs.Path
			if !filepath.IsAbs(f.Path) {
				f.Path = filepath.Join(filepath.Dir(path), f.Path)
			}
		}
		if fs.TAXII != nil {
			sources++
			t := fs.TAXII
			u, err := url.Parse(t.APIRoot)
			switch {
			case t.APIRoot == "":
				at(p+".taxii", "taxii: api_root is missing (the URL of the server's API root, e.g. https://taxii.example.org/api1/)")
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				at(p+".taxii.api_root", "taxii: api_root %q is not an http(s) URL", t.APIRoot)
			case u.User != nil:
				at(p+".taxii.api_root", "taxii: api_root holds credentials: remove them and name the environment variables that hold them under auth:")
			}
			if t.Collection == "" {
				at(p+".taxii", "taxii: collection is missing (the collection's id, as the server's collections list gives it)")
			}
			root := t.APIRoot
			if !strings.HasSuffix(root, "/") {
				root += "/"
			}
			f.TAXII = &TAXIISource{APIRoot: root, Collection: t.Collection, Types: t.Types}
			if fs.Format != "" && fs.Format != "stix" {
				at(p+".format", "format %q: a TAXII collection holds STIX objects (leave format out)", fs.Format)
			}
		}
		if sources != 1 && fs.Name != "" {
			at(p, "feed %q: give exactly one of url, path and taxii", fs.Name)
		}
		if fs.Format != "" {
			ff, ok := formats[strings.ToLower(fs.Format)]
			if !ok {
				at(p+".format", "format %q is not known (stix, misp-event, misp-feed, csv, plain, kev, json-list, warninglist; leave it out to recognise the content)", fs.Format)
			}
			f.Format = ff
		}
		if fs.Type != "" {
			t, ok := intel.ParseType(fs.Type)
			if !ok {
				at(p+".type", "type %q is not an indicator type (ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256, sha512, imphash, filename, cve)", fs.Type)
			}
			f.Type = t
		}
		if fs.Column < 0 {
			at(p+".column", "column %d: columns are numbered from 1", fs.Column)
		}
		if (fs.Type != "" || fs.Column != 0) && f.Format != intel.FormatAuto && f.Format != intel.FormatCSV && f.Format != intel.FormatText {
			at(p, "type and column apply to csv and plain feeds, not %s", fs.Format)
		}
		if fs.Refresh != "" {
			d, err := time.ParseDuration(fs.Refresh)
			if err != nil || d <= 0 {
				at(p+".refresh", "refresh %q: want a duration such as 30m, 6h or 24h", fs.Refresh)
			}
			f.Refresh = d
		}
		if fs.Timeout != "" {
			d, err := time.ParseDuration(fs.Timeout)
			if err != nil || d <= 0 {
				at(p+".timeout", "timeout %q: want a duration such as 30s or 5m", fs.Timeout)
			}
			f.Timeout = d
		}
		if fs.TLP != "" {
			tlp := strings.ToLower(strings.TrimPrefix(strings.ToLower(fs.TLP), "tlp:"))
			if tlp == "white" {
				tlp = "clear"
			}
			if _, ok := taxii.TLPRank(tlp); !ok {
				at(p+".tlp", "tlp %q: want clear, green, amber, amber+strict or red", fs.TLP)
			}
			f.TLP = tlp
		}
		if fs.Confidence != nil {
			if *fs.Confidence < 1 || *fs.Confidence > 100 {
				at(p+".confidence", "confidence %d: want 1 to 100", *fs.Confidence)
			}
			f.Confidence = *fs.Confidence
		}
		if (f.TLP != "" || f.Confidence != 0) && !canApplyDefaults(f.Format) {
			at(p, "tlp and confidence defaults apply to stix, csv and plain feeds; %s entries state their own", fs.Format)
		}
		if a := fs.Auth; a != nil {
			f.Auth = Auth{Type: strings.ToLower(a.Type), TokenEnv: a.TokenEnv, UserEnv: a.UserEnv, PasswordEnv: a.PasswordEnv, Header: a.Header}
			switch f.Auth.Type {
			case "bearer", "header":
				if a.TokenEnv == "" {
					at(p+".auth", "auth %s: token_env is missing (the name of the environment variable holding the token)", f.Auth.Type)
				}
				if f.Auth.Type == "header" && a.Header == "" {
					at(p+".auth", "auth header: header is missing (the name of the header carrying the key, e.g. Auth-Key)")
				}
			case "basic":
				if a.UserEnv == "" || a.PasswordEnv == "" {
					at(p+".auth", "auth basic: user_env and password_env name the environment variables holding the user and the password")
				}
			default:
				at(p+".auth.type", "auth type %q: want bearer, basic or header", a.Type)
			}
			for _, v := range []string{a.TokenEnv, a.UserEnv, a.PasswordEnv} {
				if v != "" && !envNameRE.MatchString(v) {
					at(p+".auth", "%q is not an environment variable name: auth names the variables, the secrets stay in the environment", shorten(v))
				}
			}
			if f.Path != "" {
				at(p+".auth", "auth applies to url and taxii feeds, not to a path")
			}
		}
		cfg.Feeds = append(cfg.Feeds, f)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// shorten keeps what may be a secret pasted by mistake out of messages.
func shorten(s string) string {
	if len(s) > 4 {
		return s[:2] + "…"
	}
	return s
}

// canApplyDefaults reports whether tlp and confidence defaults can be given
// to a format's entries (FormatAuto: decided when the content is known).
func canApplyDefaults(f intel.Format) bool {
	switch f {
	case intel.FormatAuto, intel.FormatSTIX, intel.FormatCSV, intel.FormatText:
		return true
	}
	return false
}

// position returns the line and column of the node at a YAML path, or of
// its nearest parent that exists.
func position(file *ast.File, p string) (int, int) {
	if file == nil {
		return 0, 0
	}
	for p != "" {
		if yp, err := yaml.PathString(p); err == nil {
			if n, err := yp.FilterFile(file); err == nil && n != nil {
				if tk := n.GetToken(); tk != nil && tk.Position != nil {
					return tk.Position.Line, tk.Position.Column
				}
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0, 0
}

// errMissingSecret is wrapped by the error of a feed whose credential
// variable is not set.
var errMissingSecret = errors.New("environment variable not set")
