namespace Aof.Server.Tests;

public class Smoke
{
    [Fact]
    public void EngineStartsWithDefaults()
    {
        var started = Aof.Engine.Server.Start([]);
        Assert.True(started.IsOk);
        Assert.Equal(6379, started.ResultValue.Settings.Port);
    }
}
