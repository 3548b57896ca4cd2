package mptcp

// FakeResolver lends the external test package fakeResolver, for the
// strict dials of its test beds.
var FakeResolver = fakeResolver
