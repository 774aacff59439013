package logs

import (
	"context"
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
	"time"
)

type describeLogGroupsInput struct {
	LogGroupNamePrefix  string `json:"logGroupNamePrefix"`
	LogGroupNamePattern string `json:"logGroupNamePattern"`
	Limit               int    `json:"limit"`
	NextToken           string `json:"nextToken"`
}

type logGroup struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int    `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
	LogGroupArn       string `json:"logGroupArn"`
}

type describeLogGroupsOutput struct {
	LogGroups []logGroup `json:"logGroups"`
	NextToken string     `json:"nextToken,omitempty"`
}

// describeLogGroups lists groups sorted by name. logGroupNamePattern is a
// case-insensitive substring, as on AWS.
func (l *Logs) describeLogGroups(ctx context.Context, in *describeLogGroupsInput) (*describeLogGroupsOutput, error) {
	limit, err := checkLimit(in.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, invalidParam("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	after, err := parseNameToken(in.NextToken)
	if err != nil {
		return nil, err
	}
	subjects, err := l.subjects(ctx, l.cfg.SubjectPrefix+".>")
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var names []string
	pattern := strings.ToLower(in.LogGroupNamePattern)
	for subj := range subjects {
		gtok, _, ok := splitSubject(l.cfg.SubjectPrefix, subj)
		if !ok || seen[gtok] {
			continue
		}
		seen[gtok] = true
		name, err := untoken(gtok)
		if err != nil || !strings.HasPrefix(name, in.LogGroupNamePrefix) ||
			!strings.Contains(strings.ToLower(name), pattern) || (after != "" && name <= after) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := &describeLogGroupsOutput{LogGroups: []logGroup{}}
	if len(names) > limit {
		names = names[:limit]
		out.NextToken = nameToken(names[limit-1])
	}
	retention := 0
	if l.cfg.MaxAge%(24*time.Hour) == 0 {
		retention = int(l.cfg.MaxAge / (24 * time.Hour))
	}
	for _, name := range names {
		first, err := l.firstMsg(ctx, groupFilter(l.cfg.SubjectPrefix, name))
		if err != nil {
			return nil, err
		}
		g := logGroup{LogGroupName: name, RetentionInDays: retention, Arn: l.groupARN(name) + ":*",
			LogGroupClass: "STANDARD", LogGroupArn: l.groupARN(name)}
		if first != nil {
			g.CreationTime = first.Time.UnixMilli()
		}
		out.LogGroups = append(out.LogGroups, g)
	}
	return out, nil
}

type describeLogStreamsInput struct {
	LogGroupName        string `json:"logGroupName"`
	LogGroupIdentifier  string `json:"logGroupIdentifier"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix"`
	OrderBy             string `json:"orderBy"`
	Descending          bool   `json:"descending"`
	Limit               int    `json:"limit"`
	NextToken           string `json:"nextToken"`
}

type logStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type describeLogStreamsOutput struct {
	LogStreams []logStream `json:"logStreams"`
	NextToken  string      `json:"nextToken,omitempty"`
}

// describeLogStreams lists the streams of a group. Ordered by name, the
// token holds the last name returned; ordered by LastEventTime (which
// reads every stream's last message), it holds an offset.
func (l *Logs) describeLogStreams(ctx context.Context, in *describeLogStreamsInput) (*describeLogStreamsOutput, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	limit, err := checkLimit(in.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	byTime := false
	switch in.OrderBy {
	case "", "LogStreamName":
	case "LastEventTime":
		byTime = true
		if in.LogStreamNamePrefix != "" {
			return nil, invalidParam("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, invalidParam("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: "+
			"Member must satisfy enum value set: [LogStreamName, LastEventTime]", in.OrderBy)
	}
	subjects, err := l.subjects(ctx, groupFilter(l.cfg.SubjectPrefix, group))
	if err != nil {
		return nil, err
	}
	if len(subjects) == 0 {
		return nil, groupNotFound()
	}
	var names []string
	for subj := range subjects {
		if _, stok, ok := splitSubject(l.cfg.SubjectPrefix, subj); ok {
			if name, err := untoken(stok); err == nil && strings.HasPrefix(name, in.LogStreamNamePrefix) {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	if in.Descending {
		for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
			names[i], names[j] = names[j], names[i]
		}
	}
	out := &describeLogStreamsOutput{LogStreams: []logStream{}}
	var infos []streamInfo
	if byTime {
		offset := 0
		if in.NextToken != "" {
			if offset, err = strconv.Atoi(strings.TrimPrefix(in.NextToken, "o/")); err != nil || offset < 0 ||
				!strings.HasPrefix(in.NextToken, "o/") {
				return nil, invalidToken()
			}
		}
		for _, name := range names {
			si, err := l.describeStream(ctx, group, name)
			if err != nil {
				return nil, err
			}
			infos = append(infos, si)
		}
		sort.SliceStable(infos, func(i, j int) bool {
			if in.Descending {
				return infos[i].lastEvent > infos[j].lastEvent
			}
			return infos[i].lastEvent < infos[j].lastEvent
		})
		infos = infos[min(offset, len(infos)):]
		if len(infos) > limit {
			infos = infos[:limit]
			out.NextToken = "o/" + strconv.Itoa(offset+limit)
		}
	} else {
		after, err := parseNameToken(in.NextToken)
		if err != nil {
			return nil, err
		}
		if after != "" {
			i := sort.Search(len(names), func(i int) bool {
				if in.Descending {
					return names[i] < after
				}
				return names[i] > after
			})
			names = names[i:]
		}
		if len(names) > limit {
			names = names[:limit]
			out.NextToken = nameToken(names[limit-1])
		}
		for _, name := range names {
			si, err := l.describeStream(ctx, group, name)
			if err != nil {
				return nil, err
			}
			infos = append(infos, si)
		}
	}
	for _, si := range infos {
		out.LogStreams = append(out.LogStreams, logStream{
			LogStreamName: si.name, CreationTime: si.creation, FirstEventTimestamp: si.firstEvent,
			LastEventTimestamp: si.lastEvent, LastIngestionTime: si.lastIngestion,
			Arn: l.streamARN(group, si.name),
		})
	}
	return out, nil
}

// nameToken makes a page token that resumes after name.
func nameToken(name string) string { return "n/" + base64.RawURLEncoding.EncodeToString([]byte(name)) }

func parseNameToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	rest, ok := strings.CutPrefix(tok, "n/")
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if !ok || err != nil || len(b) == 0 {
		return "", invalidToken()
	}
	return string(b), nil
}
