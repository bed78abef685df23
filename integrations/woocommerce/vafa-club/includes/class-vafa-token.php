<?php
/**
 * The shopper's token: an HS256 JSON Web Token (RFC 7519) that Vafa's storefront API accepts
 * for one customer of one shop. Written out rather than taken from a library so the plugin
 * needs no Composer step: HS256 is one HMAC over two base64url parts.
 */

declare(strict_types=1);

final class Vafa_Token
{
    /** Vafa refuses a token that lives longer. */
    public const MAX_LIFETIME = 900;

    public static function base64url(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }

    /**
     * @param string $secret      the shop's storefront secret (printed by Vafa when the store was connected)
     * @param string $customer_id WooCommerce's customer id (the WordPress user id)
     * @param int    $now         Unix time
     * @param int    $lifetime    seconds, at most MAX_LIFETIME
     */
    public static function make(string $secret, string $customer_id, int $now, int $lifetime = 600): string
    {
        if ($secret === '') {
            throw new InvalidArgumentException('the storefront secret is not set');
        }
        if ($customer_id === '' || !ctype_digit($customer_id)) {
            throw new InvalidArgumentException('a customer id is a positive whole number');
        }
        $lifetime = max(1, min($lifetime, self::MAX_LIFETIME));
        $header = ['alg' => 'HS256', 'typ' => 'JWT'];
        $claims = ['sub' => $customer_id, 'iat' => $now, 'exp' => $now + $lifetime];
        $signing_input = self::base64url(self::json($header)) . '.' . self::base64url(self::json($claims));
        $signature = hash_hmac('sha256', $signing_input, $secret, true);
        return $signing_input . '.' . self::base64url($signature);
    }

    private static function json(array $value): string
    {
        return json_encode($value, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
    }
}
