package chat

// HandleRule is the handle rule as one sentence (lower case, no final
// period), for screens that state it before anyone is refused, such as the
// login screen. Refusals carry the same text.
func HandleRule() string { return handleRule }
