package notify

// StallAfter is stallAfter, for the transports' tests in notify_test.
var StallAfter = stallAfter
