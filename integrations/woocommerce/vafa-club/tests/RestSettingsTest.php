<?php

declare(strict_types=1);

use PHPUnit\Framework\TestCase;

/**
 * What Vafa pushes through WooCommerce's settings API once the store connected: the group and
 * its options as WooCommerce finds them through the plugin's filters, a PUT written the way
 * WC_REST_Setting_Options_Controller::update_item writes an option_key [option, key], and the
 * plugin configured from it.
 */
final class RestSettingsTest extends TestCase
{
    private const SECRET = 'abcDEF0123456789abcDEF0123456789';

    protected function setUp(): void
    {
        $GLOBALS['vafa_test']['options'] = [];
        $GLOBALS['vafa_test']['hooks'] = [];
        $settings = new Vafa_Settings();
        $settings->register();
        foreach ($GLOBALS['vafa_test']['hooks']['rest_api_init'] ?? [] as $init) {
            $init(); // as WordPress runs rest_api_init before serving a REST request
        }
    }

    /** What WooCommerce's update_item does with one PUT /settings/{group}/{id} {"value"}. */
    private static function put(string $group, string $id, mixed $value): void
    {
        $options = apply_filters('woocommerce_settings-' . $group, []);
        $found = array_values(array_filter($options, static fn (array $o): bool => $o['id'] === $id));
        self::assertCount(1, $found, "no option $id in group $group");
        [$option, $key] = $found[0]['option_key'];
        $prev = get_option($option, null) ?? [];
        $prev[$key] = $value;
        update_option($option, $prev);
    }

    public function testTheVafaGroupIsRegisteredWithItsThreeOptions(): void
    {
        $groups = apply_filters('woocommerce_settings_groups', [['id' => 'general', 'label' => 'General']]);
        self::assertSame(['general', 'vafa'], array_column($groups, 'id'));
        $options = apply_filters('woocommerce_settings-vafa', []);
        self::assertSame(['vafa_url', 'shop_id', 'storefront_secret'], array_column($options, 'id'));
        self::assertSame(['text', 'text', 'password'], array_column($options, 'type'));
        foreach ($options as $option) {
            self::assertSame([Vafa_Settings::OPTION, $option['id']], $option['option_key']);
        }
    }

    public function testThePluginReadsThePushedSettings(): void
    {
        $GLOBALS['vafa_test']['options'][Vafa_Settings::OPTION] = ['colour' => '#112233'];
        self::assertFalse((new Vafa_Settings())->is_configured());
        self::put('vafa', 'vafa_url', 'https://vafa.example');
        self::put('vafa', 'shop_id', '7');
        self::put('vafa', 'storefront_secret', self::SECRET);
        $settings = new Vafa_Settings();
        self::assertTrue($settings->is_configured());
        self::assertSame([
            'vafa_url' => 'https://vafa.example',
            'shop_id' => '7',
            'storefront_secret' => self::SECRET,
            'colour' => '#112233', // what the owner set by hand stays
        ], $settings->get());
    }

    public function testAPushedValueThatIsNotOneIsNotKept(): void
    {
        self::put('vafa', 'vafa_url', 'javascript:alert(1)');
        self::put('vafa', 'shop_id', '7; DROP');
        self::assertSame('', (new Vafa_Settings())->get()['vafa_url']);
        self::assertSame('', $GLOBALS['vafa_test']['options'][Vafa_Settings::OPTION]['shop_id']);
    }
}
