module github.com/patrolsec/patrol

go 1.26.8
