package server

// UnknownStep is how many bytes a body of unknown length reserves first.
const UnknownStep = unknownStep
