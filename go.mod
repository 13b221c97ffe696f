module github.com/patrolsec/patrol

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/robfig/cron/v3 v3.0.1
)

require github.com/mattn/go-sqlite3 v1.14.24

require (
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/common v0.74.0 // indirect
)
