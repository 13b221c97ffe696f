module github.com/patrolsec/patrol

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/andygrunwald/go-jira v1.17.0
	github.com/mattn/go-sqlite3 v1.14.24
	github.com/robfig/cron/v3 v3.0.1
	github.com/slack-go/slack v0.35.0
)

require (
	github.com/fatih/structs v1.1.0 // indirect
	github.com/golang-jwt/jwt/v4 v4.5.2 // indirect
	github.com/google/go-querystring v1.1.0 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/trivago/tgo v1.0.7 // indirect
)
