package jiratest

import (
	"fmt"
	"net/http"
	"net/url"
)

// A Data Center user has a name, which an administrator can change, and a
// key, which never changes: JIRAUSER10100 for users created since Jira 8,
// the first name for older ones. The changelog names a user by both
// ({"name": ..., "key": ...}, as of now), and GET /rest/api/2/user answers
// for ?username= or ?key=. Cloud names people by accountId only.
type user struct {
	key, name string
}

// AddUser adds a Data Center user with a name and a key.
func (s *Server) AddUser(name, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = append(s.users, &user{key: key, name: name})
}

// RenameUser changes a Data Center user's name, as an administrator can;
// the key stays. Everything the user did is shown under the new name.
func (s *Server) RenameUser(from, to string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.name == to {
			return fmt.Errorf("jiratest: a user named %s exists", to)
		}
	}
	for _, u := range s.users {
		if u.name == from {
			u.name = to
			return nil
		}
	}
	return fmt.Errorf("jiratest: no user named %s", from)
}

// person returns the stable id the fake records for who did something:
// on Data Center the key of the user with that name (a new user gets a
// JIRAUSER key), on Cloud the accountId as given. s.mu must be held.
func (s *Server) person(id string) string {
	if s.opts.Flavor != DataCenter {
		return id
	}
	for _, u := range s.users {
		if u.key == id {
			return u.key
		}
	}
	for _, u := range s.users {
		if u.name == id {
			return u.key
		}
	}
	u := &user{key: fmt.Sprintf("JIRAUSER%d", 10100+len(s.users)), name: id}
	s.users = append(s.users, u)
	return u.key
}

// userByKey returns the user with key; s.mu must be held.
func (s *Server) userByKey(key string) *user {
	for _, u := range s.users {
		if u.key == key {
			return u
		}
	}
	return nil
}

// getUser handles GET /rest/api/2/user?username=NAME or ?key=KEY (Data
// Center).
func (s *Server) getUser(w http.ResponseWriter, q url.Values) {
	s.mu.Lock()
	var found *user
	for _, u := range s.users {
		if (q.Has("username") && u.name == q.Get("username")) || (q.Has("key") && u.key == q.Get("key")) {
			found = u
		}
	}
	s.mu.Unlock()
	if found == nil {
		what := "named '" + q.Get("username") + "'"
		if !q.Has("username") {
			what = "with the key '" + q.Get("key") + "'"
		}
		writeJSON(w, http.StatusNotFound, errorBody([]string{"The user " + what + " does not exist"}, nil))
		return
	}
	writeJSON(w, http.StatusOK, s.dcUserJSON(found))
}

func (s *Server) dcUserJSON(u *user) map[string]any {
	return map[string]any{"name": u.name, "key": u.key, "displayName": u.name, "active": true,
		"emailAddress": u.name + "@example.com", "timeZone": s.opts.TimeZone,
		"self": s.URL + "/rest/api/2/user?username=" + url.QueryEscape(u.name)}
}
