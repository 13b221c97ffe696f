package aws

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Error is an AWS call that failed after the SDK's own retries. Its text
// carries the operation and AWS's error code (AccessDenied, NoSuchEntity,
// Throttling...) so the ticket comment says exactly what AWS refused.
type Error struct {
	Op      string // service:Operation, as in an IAM policy
	Code    string // AWS error code, "" when the call never got an answer
	Message string
	Status  int // HTTP status, 0 when unknown
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Code != "" && e.Message != "":
		return fmt.Sprintf("%s: %s: %s", e.Op, e.Code, e.Message)
	case e.Code != "":
		return e.Op + ": " + e.Code
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether trying again later may succeed: throttling and
// AWS-side failures. The SDK has already retried these; the caller decides
// whether a later run should try again.
func (e *Error) Retryable() bool {
	if _, ok := retry.DefaultThrottleErrorCodes[e.Code]; ok {
		return true
	}
	return e.Status >= http.StatusInternalServerError || e.Status == http.StatusTooManyRequests
}

// awsError wraps err from the AWS operation op; nil stays nil.
func awsError(op string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code, e.Message = ae.ErrorCode(), ae.ErrorMessage()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
	}
	return e
}

// errorCode returns the AWS error code inside err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
