module Aof.Core.Tests.ListTests

// SKELETON: the family helper fills this in.
