namespace Aof.Bench

// SKELETON: the family helper fills this in.
