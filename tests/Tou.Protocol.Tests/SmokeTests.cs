using Tou.Protocol.Wire;

namespace Tou.Protocol.Tests;

public class SmokeTests
{
    [Fact]
    public void Header_size_is_21() => Assert.Equal(21, TouHeader.Size);
}
