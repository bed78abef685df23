<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

final class WidgetTest extends TestCase
{
    private const SECRET = 'abcDEF0123456789abcDEF0123456789';

    protected function setUp(): void
    {
        $GLOBALS['vafa_test']['options'][Vafa_Settings::OPTION] = [
            'vafa_url' => 'https://vafa.example',
            'shop_id' => '3',
            'storefront_secret' => self::SECRET,
        ];
        $GLOBALS['vafa_test']['user'] = 0;
        $GLOBALS['vafa_test']['locale'] = 'en_US';
    }

    private static function widget(): Vafa_Widget
    {
        return new Vafa_Widget(new Vafa_Settings());
    }

    public function testAGuestGetsTheWidgetWithoutAToken(): void
    {
        $html = self::widget()->element('launcher');
        self::assertStringContainsString('<script src="https://vafa.example/widget/v1/vafa.js" async></script>', $html);
        self::assertStringContainsString('data-api="https://vafa.example/storefront/woocommerce/3"', $html);
        self::assertStringContainsString('data-platform="woocommerce"', $html);
        self::assertStringNotContainsString('data-token', $html);
    }

    public function testALoggedInCustomerGetsTheirOwnToken(): void
    {
        $GLOBALS['vafa_test']['user'] = 42;
        $html = self::widget()->element('account', 1_800_000_000);
        self::assertMatchesRegularExpression('/data-token="([\w-]+\.[\w-]+\.[\w-]+)"/', $html);
        preg_match('/data-token="([^"]+)"/', $html, $m);
        self::assertSame(Vafa_Token::make(self::SECRET, '42', 1_800_000_000), $m[1]);
        self::assertStringContainsString('data-view="account"', $html);
    }

    public function testAPersianSiteGetsThePersianWidget(): void
    {
        $GLOBALS['vafa_test']['locale'] = 'fa_IR';
        self::assertStringContainsString('data-locale="fa"', self::widget()->element('launcher'));
    }

    public function testNothingUntilConfigured(): void
    {
        $GLOBALS['vafa_test']['options'] = [];
        self::assertSame('', self::widget()->element('launcher'));
    }

    public function testTheAccountMenuGetsClubPointsBeforeLogout(): void
    {
        $items = self::widget()->account_menu(['dashboard' => 'Dashboard', 'customer-logout' => 'Log out']);
        self::assertSame(['dashboard', Vafa_Widget::ENDPOINT, 'customer-logout'], array_keys($items));
    }

    public function testRegisterHooksTheThreePlaces(): void
    {
        $GLOBALS['vafa_test']['hooks'] = [];
        self::widget()->register();
        foreach (['wp_footer', 'woocommerce_account_vafa-points_endpoint', 'woocommerce_review_order_before_payment'] as $hook) {
            self::assertArrayHasKey($hook, $GLOBALS['vafa_test']['hooks']);
        }
    }

    public function testALoggedInPageCanAskForAFreshTokenAndAGuestCannot(): void
    {
        $GLOBALS['vafa_test']['user'] = 42;
        $html = self::widget()->element('launcher');
        self::assertStringContainsString('data-token-url="https://shop.example/wp-json/vafa/v1/token"', $html);
        self::assertStringContainsString('data-nonce="nonce-wp_rest"', $html);
        $GLOBALS['vafa_test']['routes'] = [];
        self::widget()->register_token_route();
        $route = $GLOBALS['vafa_test']['routes']['vafa/v1/token'];
        self::assertSame('GET', $route['methods']);
        self::assertTrue(($route['permission_callback'])());
        self::assertSame(['token' => Vafa_Token::make(self::SECRET, '42', 1_800_000_000)], self::widget()->fresh_token(1_800_000_000));
        self::assertTrue($GLOBALS['vafa_test']['nocache']);
        $GLOBALS['vafa_test']['user'] = 0;
        self::assertFalse(($route['permission_callback'])());
        self::assertStringNotContainsString('data-token-url', self::widget()->element('launcher'));
    }
}
