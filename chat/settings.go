package chat

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Theme values of Settings.Theme.
const (
	ThemeAuto  = "auto" // from the terminal's background colour
	ThemeLight = "light"
	ThemeDark  = "dark"
)

// Settings are a user's stored preferences. Every session of the user
// applies them: at connect (Snapshot.Settings) and when they change
// (SettingsEvent).
type Settings struct {
	Theme   string // ThemeAuto, ThemeLight or ThemeDark
	TZ      string // IANA time zone name; "" is the server's zone
	Clock12 bool   // 12-hour clock ("3:04pm") instead of 24-hour
	Bell    bool   // ring the terminal bell on a mention or direct message
	Notices bool   // show join/leave lines
	Links   string // LinksAuto, LinksOn or LinksOff: URLs as OSC 8 hyperlinks
}

// Links values of Settings.Links: auto links on terminals known to
// support OSC 8 hyperlinks.
const (
	LinksAuto = "auto"
	LinksOn   = "on"
	LinksOff  = "off"
)

// DefaultSettings are the settings of a user who never changed any.
func DefaultSettings() Settings {
	return Settings{Theme: ThemeAuto, Bell: true, Notices: true, Links: LinksAuto}
}

// setting is one /set-able preference: its command, what it accepts and how
// it reads and writes a Settings.
type setting struct {
	name  string // the stored name and the command (/theme)
	args  string // accepted values, for usage
	parse func(arg string) (string, error)
	apply func(s *Settings, v string)
	show  func(s Settings) string
}

func onOff(arg string) (string, error) {
	switch strings.ToLower(arg) {
	case "on", "yes", "true":
		return "on", nil
	case "off", "no", "false":
		return "off", nil
	}
	return "", fmt.Errorf("%w: say on or off", ErrSetting)
}

func showOnOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// settingsTable lists the settings in /set order.
func settingsTable() []setting {
	return []setting{
		{name: "theme", args: "light|dark|auto",
			parse: func(a string) (string, error) {
				switch v := strings.ToLower(a); v {
				case ThemeAuto, ThemeLight, ThemeDark:
					return v, nil
				}
				return "", fmt.Errorf("%w: /theme light, dark or auto", ErrSetting)
			},
			apply: func(s *Settings, v string) { s.Theme = v },
			show:  func(s Settings) string { return s.Theme }},
		{name: "tz", args: "ZONE|server",
			parse: func(a string) (string, error) {
				if strings.EqualFold(a, "server") || strings.EqualFold(a, "local") || a == "-" {
					return "", nil
				}
				loc, err := time.LoadLocation(a)
				if len(a) > 64 || err != nil {
					return "", fmt.Errorf("%w: %q is not a time zone (e.g. Europe/Paris, UTC)", ErrSetting, SanitizeText(clipRunes(a, 32)))
				}
				return loc.String(), nil
			},
			apply: func(s *Settings, v string) { s.TZ = v },
			show: func(s Settings) string {
				if s.TZ == "" {
					return "server"
				}
				return s.TZ
			}},
		{name: "clock", args: "12|24",
			parse: func(a string) (string, error) {
				if a == "12" || a == "24" {
					return a, nil
				}
				return "", fmt.Errorf("%w: /clock 12 or 24", ErrSetting)
			},
			apply: func(s *Settings, v string) { s.Clock12 = v == "12" },
			show: func(s Settings) string {
				if s.Clock12 {
					return "12"
				}
				return "24"
			}},
		{name: "bell", args: "on|off", parse: onOff,
			apply: func(s *Settings, v string) { s.Bell = v == "on" },
			show:  func(s Settings) string { return showOnOff(s.Bell) }},
		{name: "notices", args: "on|off", parse: onOff,
			apply: func(s *Settings, v string) { s.Notices = v == "on" },
			show:  func(s Settings) string { return showOnOff(s.Notices) }},
		{name: "links", args: "on|off|auto",
			parse: func(a string) (string, error) {
				if strings.EqualFold(a, LinksAuto) {
					return LinksAuto, nil
				}
				return onOff(a)
			},
			apply: func(s *Settings, v string) { s.Links = v },
			show:  func(s Settings) string { return s.Links }},
	}
}

// settingsFrom reads stored name/value pairs over the defaults; unknown
// names and values that no longer parse are ignored.
func settingsFrom(stored map[string]string) Settings {
	s := DefaultSettings()
	for _, st := range settingsTable() {
		if v, ok := stored[st.name]; ok {
			if p, err := st.parse(v); err == nil {
				st.apply(&s, p)
			} else if v == "" && st.name == "tz" {
				st.apply(&s, "")
			}
		}
	}
	return s
}

// loadSettings reads a user's settings; a read failure gives the defaults
// (settings are not worth refusing a login for).
func (h *Hub) loadSettings(ctx context.Context, id UserID) Settings {
	stored, err := h.store.UserSettings(ctx, uint64(id))
	if err != nil {
		h.log.Warn("load settings", "user", id, "err", err)
		return DefaultSettings()
	}
	return settingsFrom(stored)
}

// settingOp stores one setting and tells every session of the user the
// new settings. It is sequenced so that the sessions see changes in the
// order they were stored.
type settingOp struct {
	s           *session
	name, value string
	res         chan error
}

func (*settingOp) isOp() {}

// setSetting applies a settingOp.
func (h *Hub) setSetting(o *settingOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.wrote(h.store.SetUserSetting(ctx, uint64(o.s.user), o.name, o.value), "/"+o.name, "the setting was not changed"); err != nil {
		return err
	}
	st := h.loadSettings(ctx, o.s.user)
	h.locked(func() { h.toUserLocked(o.s.user, SettingsEvent{Settings: st}) })
	h.publish(evSetting, userRef{User: o.s.user}) // other nodes (cluster_sync.go)
	return nil
}

// cmdSetting returns the handler of one setting's command: without an
// argument it shows the value, with one it stores it.
func cmdSetting(st setting) func(context.Context, *session, ConvID, string) (Reply, error) {
	return func(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
		if arg == "" {
			cur := s.hub.loadSettings(ctx, s.user)
			return Reply{Lines: []string{st.name + ": " + st.show(cur) + " (/" + st.name + " " + st.args + ")"}}, nil
		}
		v, err := st.parse(arg)
		if err != nil {
			return Reply{}, err
		}
		o := &settingOp{s: s, name: st.name, value: v, res: make(chan error, 1)}
		if err := s.hub.submit(ctx, o); err != nil {
			return Reply{}, fmt.Errorf("/%s: %w", st.name, err)
		}
		if err := <-o.res; err != nil {
			return Reply{}, err
		}
		var cur Settings
		st.apply(&cur, v)
		return Reply{Lines: []string{st.name + " is now " + st.show(cur)}}, nil
	}
}

// runSetting is the command handler of the named setting.
func runSetting(name string) func(context.Context, *session, ConvID, string) (Reply, error) {
	for _, st := range settingsTable() {
		if st.name == name {
			return cmdSetting(st)
		}
	}
	return func(context.Context, *session, ConvID, string) (Reply, error) {
		return Reply{}, fmt.Errorf("%w: no setting %s", ErrSetting, name)
	}
}

// cmdSet lists every setting with its value.
func cmdSet(ctx context.Context, s *session, _ ConvID, _ string) (Reply, error) {
	cur := s.hub.loadSettings(ctx, s.user)
	lines := []string{"Settings:"}
	for _, st := range settingsTable() {
		lines = append(lines, fmt.Sprintf("  %-8s %-16s /%s %s", st.name, st.show(cur), st.name, st.args))
	}
	return Reply{Lines: lines}, nil
}
