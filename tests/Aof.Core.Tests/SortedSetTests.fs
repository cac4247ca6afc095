module Aof.Core.Tests.SortedSetTests

// SKELETON: the family helper fills this in.
