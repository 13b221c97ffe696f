package jiratest

import (
	"slices"
	"strings"
)

// issueJSON writes an issue as Jira's REST API does, with the fields
// asked for ("*all" and "*navigable" mean all).
func (s *Server) issueJSON(is *Issue, fields []string, version string) map[string]any {
	m := map[string]any{
		"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
		"id":     is.ID,
		"key":    is.Key,
		"self":   s.URL + "/rest/api/" + version + "/issue/" + is.ID,
	}
	all := slices.Contains(fields, "*all") || slices.Contains(fields, "*navigable")
	want := func(name string) bool { return all || slices.Contains(fields, name) }
	f := map[string]any{}
	set := func(name string, v func() any) {
		if want(name) {
			f[name] = v()
		}
	}
	set("summary", func() any { return is.Summary })
	set("status", func() any {
		cat := map[string]any{"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"}
		if doneStatus(is.Status) {
			cat = map[string]any{"id": 3, "key": "done", "colorName": "green", "name": "Done"}
		}
		return map[string]any{"name": is.Status, "id": "1", "statusCategory": cat}
	})
	set("resolution", func() any {
		if is.Resolution == "" {
			return nil
		}
		return map[string]any{"name": is.Resolution, "id": "10000", "self": s.URL + "/rest/api/2/resolution/10000"}
	})
	set("labels", func() any {
		if is.Labels == nil {
			return []string{}
		}
		return is.Labels
	})
	set("created", func() any { return s.fmtTime(is.Created) })
	set("updated", func() any { return s.fmtTime(is.Updated) })
	set("issuetype", func() any { return map[string]any{"name": is.IssueType, "subtask": false} })
	set("project", func() any { return map[string]any{"key": s.opts.Project, "id": "10000", "name": s.opts.Project} })
	set("priority", func() any {
		if is.Priority == "" {
			return map[string]any{"name": "Medium", "id": "3"}
		}
		return map[string]any{"name": is.Priority}
	})
	set("assignee", func() any {
		if is.Assignee == "" {
			return nil
		}
		return s.userJSON(is.Assignee)
	})
	set("reporter", func() any { return s.userJSON(is.Reporter) })
	set("components", func() any {
		cs := []any{}
		for _, c := range is.Components {
			cs = append(cs, map[string]any{"name": c})
		}
		return cs
	})
	set("description", func() any {
		if is.Description == nil {
			return nil
		}
		if version == "3" {
			if str, ok := is.Description.(string); ok {
				return adfParagraph(str)
			}
			return is.Description
		}
		return PlainText(is.Description) // v2 answers text, even for ADF
	})
	for name, v := range is.Fields {
		if want(name) {
			f[name] = v
		}
	}
	m["fields"] = f
	return m
}

func adfParagraph(s string) map[string]any {
	var content []any
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			content = append(content, map[string]any{"type": "hardBreak"})
		}
		if line != "" {
			content = append(content, map[string]any{"type": "text", "text": line})
		}
	}
	return map[string]any{"type": "doc", "version": 1, "content": []any{map[string]any{"type": "paragraph", "content": content}}}
}

// userJSON names a person the flavor's way; s.mu must be held.
func (s *Server) userJSON(id string) map[string]any {
	if s.opts.Flavor == Cloud {
		return map[string]any{"accountId": id, "accountType": "atlassian", "displayName": id, "active": true,
			"self": s.URL + "/rest/api/2/user?accountId=" + id}
	}
	return s.dcUserJSON(s.userByKey(s.person(id)))
}
