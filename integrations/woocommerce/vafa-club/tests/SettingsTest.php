<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

final class SettingsTest extends TestCase
{
    protected function setUp(): void
    {
        $GLOBALS['vafa_test']['options'] = [];
        $GLOBALS['vafa_test']['user'] = 0;
    }

    public function testValidSettingsAreKeptAndTidied(): void
    {
        $clean = Vafa_Settings::sanitize([
            'vafa_url' => ' https://vafa.example/ ',
            'shop_id' => '12',
            'storefront_secret' => 'abcDEF0123456789abcDEF0123456789',
            'colour' => '#1A2B3C',
        ]);
        self::assertSame([
            'vafa_url' => 'https://vafa.example',
            'shop_id' => '12',
            'storefront_secret' => 'abcDEF0123456789abcDEF0123456789',
            'colour' => '#1a2b3c',
        ], $clean);
    }

    /** @return array<string, array{string, string}> */
    public static function badValues(): array
    {
        return [
            'a script URL' => ['vafa_url', 'javascript:alert(1)'],
            'a URL without host' => ['vafa_url', 'https://'],
            'a shop id with letters' => ['shop_id', '12a'],
            'a secret too short' => ['storefront_secret', 'short'],
            'a secret with quotes' => ['storefront_secret', 'abcDEF0123456789"><script>'],
            'a colour name' => ['colour', 'red'],
        ];
    }

    /** @dataProvider badValues */
    public function testABadValueIsDroppedNotStored(string $field, string $value): void
    {
        self::assertSame('', Vafa_Settings::sanitize([$field => $value])[$field]);
    }

    public function testConnectSendsTheStoreUrlToVafa(): void
    {
        $GLOBALS['vafa_test']['options'][Vafa_Settings::OPTION] = ['vafa_url' => 'https://vafa.example'];
        self::assertSame(
            'https://vafa.example/woocommerce/connect?store_url=https%3A%2F%2Fshop.example',
            (new Vafa_Settings())->connect_url()
        );
    }

    public function testTheSettingsPageIsForShopManagersAndCarriesTheNonce(): void
    {
        $settings = new Vafa_Settings();
        ob_start();
        $settings->render();
        self::assertSame('', ob_get_clean()); // a customer sees nothing
        $GLOBALS['vafa_test']['user'] = 1;
        ob_start();
        $settings->render();
        $page = (string) ob_get_clean();
        self::assertStringContainsString('name="_wpnonce"', $page);
        self::assertStringContainsString('<label for="vafa-storefront_secret">', $page);
        self::assertStringContainsString('type="password"', $page);
    }
}
