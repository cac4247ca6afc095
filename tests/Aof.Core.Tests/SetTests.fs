module Aof.Core.Tests.SetTests

// SKELETON: the family helper fills this in.
