module Aof.Core.Tests.HashTests

// SKELETON: the family helper fills this in.
