<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

final class TokenTest extends TestCase
{
    private const SECRET = 'Zk3pQ9sV1xL7mN2bR8tY4uW6eA0cD5fG';

    /** @return array{0: array<string, mixed>, 1: array<string, mixed>, 2: string, 3: string} */
    private static function parts(string $token): array
    {
        [$h, $c, $s] = explode('.', $token);
        $decode = static fn (string $p): string => base64_decode(strtr($p, '-_', '+/'), true);
        return [json_decode($decode($h), true), json_decode($decode($c), true), $s, "$h.$c"];
    }

    public function testClaimsAreTheCustomerAndAShortLifetime(): void
    {
        [$header, $claims] = self::parts(Vafa_Token::make(self::SECRET, '42', 1_800_000_000));
        self::assertSame(['alg' => 'HS256', 'typ' => 'JWT'], $header);
        self::assertSame(['sub' => '42', 'iat' => 1_800_000_000, 'exp' => 1_800_000_600], $claims);
    }

    public function testTheLifetimeIsCappedAtFifteenMinutes(): void
    {
        [, $claims] = self::parts(Vafa_Token::make(self::SECRET, '42', 1000, 86400));
        self::assertSame(900, $claims['exp'] - $claims['iat']);
    }

    public function testTheSignatureIsHmacSha256OfTheFirstTwoParts(): void
    {
        [, , $signature, $input] = self::parts(Vafa_Token::make(self::SECRET, '7', 1000));
        $expected = Vafa_Token::base64url(hash_hmac('sha256', $input, self::SECRET, true));
        self::assertSame($expected, $signature);
        self::assertStringNotContainsString('=', $signature);
    }

    public function testAnotherSecretSignsDifferently(): void
    {
        self::assertNotSame(
            Vafa_Token::make(self::SECRET, '7', 1000),
            Vafa_Token::make(self::SECRET . 'x', '7', 1000)
        );
    }

    public function testNoSecretNoToken(): void
    {
        $this->expectException(InvalidArgumentException::class);
        Vafa_Token::make('', '7', 1000);
    }

    public function testACustomerIdIsAWholeNumber(): void
    {
        $this->expectException(InvalidArgumentException::class);
        Vafa_Token::make(self::SECRET, '7 OR 1=1', 1000);
    }
}
